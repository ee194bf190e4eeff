// The optimizer's work split over ranks by whole tensors (ZeRO stage 1): each Muon matrix and
// AdamW tensor has one owner, which alone holds its state and runs its update (Newton–Schulz
// needs the whole matrix). Owners take consecutive tensors of the flat buffer, balanced by the
// update's cost, so each rank's tensors, gradients and state are one contiguous range.
#pragma once

#include <vector>

#include "core/element_range.hpp"
#include "optim/adamw.hpp"
#include "optim/muon.hpp"

namespace kmoe {

struct OptimizerShard {
  ElementRange elements;                   // of the flat buffer: its tensors and any gap after them
  int first_matrix = 0, end_matrix = 0;    // its Muon matrices (indices into the matrix list)
  int first_segment = 0, end_segment = 0;  // its AdamW tensors (indices into the segment list)
};

// The update's floating-point work for a matrix / a tensor (the balance's weights).
double muon_update_cost(const MatrixSegment& matrix, int ns_steps);
double adamw_update_cost(const Segment& segment);

// `ranks` shards of a buffer of `elements` values holding `matrices` and `segments` (each in
// offset order): a tensor goes to the rank whose share of the total cost holds its midpoint.
// A rank may own nothing when there are fewer tensors than ranks.
std::vector<OptimizerShard> shard_by_tensors(const std::vector<MatrixSegment>& matrices,
                                             const std::vector<Segment>& segments, size_t elements, int ranks,
                                             int ns_steps);

}  // namespace kmoe
