// A micro-batch of token windows as the model reads it, on the model's memory space.
#pragma once

#include "core/views.hpp"

namespace kmoe {

struct TokenBatch {
  View1<int> inputs;   // [batch · seq_len], row b·T + t
  View1<int> targets;  // next tokens, same layout
  int batch = 0;
};

}  // namespace kmoe
