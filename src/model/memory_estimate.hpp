// What a training run will allocate, computed from the configuration before anything is
// allocated, so that a model that cannot fit fails at once with the size it needs; and the
// buffer sizes the kernels can index (their extents are int).
#pragma once

#include <cstdint>
#include <string>

#include "model/model_config.hpp"

namespace kmoe {

struct MemoryEstimate {
  double state_bytes = 0;       // parameters, gradients, optimizer state
  double activation_bytes = 0;  // kept activations, backward scratch, attention and logits blocks
  double checkpoint_bytes = 0;  // transient host copies while a checkpoint is written
  double total() const { return state_bytes + activation_bytes + checkpoint_bytes; }
};

// tokens = batch_size · seq_len of one micro-batch; value_bytes = sizeof the compute type;
// optimizer_scratch = the optimizer's workspace in elements (Muon's, by shape group); ranks = the
// MPI ranks sharing the optimizer (each holds 1/ranks of its state, plus the gradient sums it
// receives from the others).
MemoryEstimate estimate_training_memory(const ModelConfig& config, int64_t parameters, int64_t tokens, int value_bytes,
                                        double optimizer_scratch, int ranks = 1);

// "" when every buffer's element count fits the kernels' int indexing; else which does not.
std::string index_range_problem(const ModelConfig& config, int64_t tokens);

}  // namespace kmoe
