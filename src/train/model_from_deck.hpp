// Builds the model a run deck describes: architecture from [model]/[moe], initial weights from
// the counter RNG with run.seed, or from model.init_weights when set.
#pragma once

#include <memory>

#include "io/run_deck.hpp"
#include "model/moe_transformer.hpp"

namespace kmoe {

template <class T>
std::unique_ptr<MoeTransformer<T>> make_model(const RunDeck& deck);

}  // namespace kmoe
