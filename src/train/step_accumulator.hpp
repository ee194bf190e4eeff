// Combines the forward results of the micro-batches of one optimizer update: losses, entropy
// and mean router probabilities are averaged (micro-batches have equal token counts), token
// counts per expert, drops and argmax hits are summed.
#pragma once

#include <vector>

#include "model/moe_transformer.hpp"

namespace kmoe {

// A micro-batch's result as a fixed number of values (its counts exactly), for gathering over ranks.
std::vector<double> pack_result(const ForwardResult& r);
ForwardResult unpack_result(const double* values, int layers, int experts);
size_t packed_result_size(int layers, int experts);

class StepAccumulator {
 public:
  void add(const ForwardResult& micro_batch);
  ForwardResult combined() const;  // throws if nothing was added

 private:
  ForwardResult sum_;
  int count_ = 0;
};

}  // namespace kmoe
