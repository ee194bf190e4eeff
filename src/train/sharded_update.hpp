// The update after the backward passes, its work split over the ranks by whole tensors
// (optimizer_shards.hpp): each rank holds the summed gradient of its own tensors (GradientSum
// receives only those), checks and clips them against the global norm, updates them with their
// optimizer state, and shares the updated values with every rank. The results are the bits of one
// process: the norm's fixed blocks are summed by their owners and added in block order; every
// update is elementwise or per whole matrix.
//
// Replicated (`sharded` false; kmoe-train --replicate-optimizer, the baseline of the benchmark):
// every rank receives the whole gradient sum and updates every tensor.
#pragma once

#include <vector>

#include "core/communicator.hpp"
#include "core/ordered_sum.hpp"
#include "model/parameter_registry.hpp"
#include "optim/hybrid_optimizer.hpp"

namespace kmoe {

// The optimizer state in the single-process layout (the checkpoint's).
struct OptimizerState {
  std::vector<float> adamw_m, adamw_v, muon_momentum;
};

class ShardedUpdate {
 public:
  ShardedUpdate(ParameterSet<float>& params, const HybridOptimizerSettings& settings, const Communicator& comm,
                bool sharded);

  // Per rank, the gradient elements whose sum it needs (GradientSum's `needed`).
  const std::vector<ElementRange>& gradients_needed() const { return needed_; }
  // Whether every rank's gradients are finite (the same answer on every rank).
  bool gradients_finite() const;
  // Every rank's gradients to every rank (to name a non-finite tensor).
  void share_gradients() const;
  // The whole gradient's norm (gradient_norm's bits); clips to `max_norm` (clip_to_max_norm).
  double clip(double max_norm);
  // Updates this rank's tensors, then shares their new values.
  void step(double lr_multiplier);

  int64_t updates() const { return optimizer_.updates(); }
  void set_updates(int64_t n) { optimizer_.set_updates(n); }
  OptimizerState gathered_state() const;
  void restore_state(const OptimizerState& state, const std::string& source);

 private:
  bool split() const { return optimizer_.shards().size() > 1; }
  ElementRange owned() const { return optimizer_.shards()[size_t(shard_)].elements; }
  // Every rank's owned elements of `values` to every rank, through `host` (values' host mirror).
  void share(const char* what, const View1<float>& values, const View1<float>::HostMirror& host) const;

  ParameterSet<float>& params_;
  const Communicator& comm_;
  int shard_ = 0;
  HybridOptimizer<float> optimizer_;
  std::vector<ElementRange> needed_;
  std::vector<ElementRange> norm_blocks_;  // per shard, the norm's blocks it sums
  OrderedSum norm_sum_;
  View1<float>::HostMirror values_host_;  // the parameters' host staging, kept between updates
};

}  // namespace kmoe
