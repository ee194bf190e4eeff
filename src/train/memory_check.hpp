// A run that cannot fit fails before any work, naming the sizes: the estimate against the
// host's available memory, or against the GPU's free memory on a device build. Then one dry
// micro-batch (forward and backward on a batch of token 0, gradients zeroed after) allocates
// every buffer of the model, the attention workspace and the bf16 operand scratch before step 1,
// so that an allocation failure also comes before training, with its size.
#pragma once

#include "io/run_deck.hpp"
#include "model/moe_transformer.hpp"

namespace kmoe {

// `ranks`: the MPI ranks of the run, which share the optimizer state.
void check_memory_fits(const RunDeck& deck, int ranks);

void allocate_before_first_step(MoeTransformer<float>& model, const RunDeck& deck);

}  // namespace kmoe
