// Combines the forward results of the micro-batches of one optimizer update: losses, entropy
// and mean router probabilities are averaged (micro-batches have equal token counts), token
// counts per expert, drops and argmax hits are summed.
#pragma once

#include "model/moe_transformer.hpp"

namespace kmoe {

class StepAccumulator {
 public:
  void add(const ForwardResult& micro_batch);
  ForwardResult combined() const;  // throws if nothing was added

 private:
  ForwardResult sum_;
  int count_ = 0;
};

}  // namespace kmoe
