// One optimizer update of the reference model (Muon + AdamW, fp32) by one rank: the whole model
// (one process, or every rank with --replicate-optimizer) against one shard of 2 or 4
// (optimizer_shards.hpp: whole tensors, balanced by cost). Sharing the updated values between
// ranks is not included: benchmarks/compare_ranks.sh times whole steps with and without sharding.
#include <benchmark/benchmark.h>

#include "model/moe_transformer.hpp"
#include "optim/hybrid_optimizer.hpp"
#include "train/deck_settings.hpp"

using namespace kmoe;

namespace {

// Arguments: shards, the shard this rank updates.
void BM_OptimizerUpdate(benchmark::State& state) {
  const int shards = int(state.range(0)), shard = int(state.range(1));
  const RunDeck deck;
  MoeTransformer<float> model(model_config_from_deck(deck), 42);
  HybridOptimizer<float> optimizer(model.params(), optimizer_settings_from_deck(deck), shards, shard);
  Kokkos::deep_copy(model.params().grads(), 1e-3f);
  optimizer.step(model.params(), 1.0);  // sizes Newton–Schulz's workspace
  Kokkos::fence();
  for (auto _ : state) {
    optimizer.step(model.params(), 1.0);
    Kokkos::fence();
  }
  const auto& mine = optimizer.shards()[size_t(shard)];
  state.counters["tensors"] = double(mine.end_matrix - mine.first_matrix + mine.end_segment - mine.first_segment);
  state.counters["elements"] = double(mine.elements.size());
}

}  // namespace

BENCHMARK(BM_OptimizerUpdate)
    ->ArgNames({"shards", "shard"})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({2, 1})
    ->Args({4, 0})
    ->Args({4, 3})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);
