// Builds the model a run deck describes: architecture from [model]/[moe], initial weights from
// the counter RNG with run.seed, or from model.init_weights when set; for moe.routing = "hash" its
// table, balanced by the training split's token counts (moe.hash_table = "balanced") or random.
#pragma once

#include <memory>

#include "data/token_shard.hpp"
#include "io/run_deck.hpp"
#include "model/moe_transformer.hpp"

namespace kmoe {

// `train_split` is read only for a balanced hash table (and must then be given).
template <class T>
std::unique_ptr<MoeTransformer<T>> make_model(const RunDeck& deck, const TokenShard* train_split = nullptr);

}  // namespace kmoe
