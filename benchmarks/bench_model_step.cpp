// One full forward + backward of the reference model (d_model 384, 6 layers, 8 experts of
// width 1536, top-2, seq 512, batch 8, vocab 8192, dropout 0.1, noise 0.1), as tokens/s.
// The dense baseline at matched active FFN width runs alongside for comparison.
#include "core/wall_timer.hpp"
#include "model/moe_transformer.hpp"
#include "optim/hybrid_optimizer.hpp"

#include <benchmark/benchmark.h>

using namespace kmoe;

namespace {

constexpr int kBatch = 8;

ModelConfig reference(bool moe) {
  ModelConfig c;
  c.vocab_size = 8192;
  c.moe = moe;
  c.d_ff = 2 * c.expert_d_ff;  // dense baseline with the MoE's active FFN width (top-2)
  return c;
}

TokenBatch reference_batch(const ModelConfig& c) {
  TokenBatch batch;
  batch.batch = kBatch;
  const int tokens = kBatch * c.seq_len;
  batch.inputs = View1<int>("inputs", tokens);
  batch.targets = View1<int>("targets", tokens);
  const auto inputs = batch.inputs;
  const auto targets = batch.targets;
  const int vocab = c.vocab_size;
  Kokkos::parallel_for(
      "tokens", Range(0, tokens), KOKKOS_LAMBDA(int i) {
        inputs(i) = (i * 7919) % vocab;
        targets(i) = (i * 104729 + 1) % vocab;
      });
  return batch;
}

void BM_TrainStep(benchmark::State& state, bool moe) {
  const auto c = reference(moe);
  MoeTransformer<float> model(c, 42);
  const auto batch = reference_batch(c);
  const int tokens = kBatch * c.seq_len;
  StepOptions options;
  for (auto _ : state) {
    model.params().zero_grads();
    model.forward(batch, options);
    model.backward();
    Kokkos::fence();
    ++options.rng_step;
  }
  state.counters["tokens/s"] = benchmark::Counter(double(tokens) * state.iterations(), benchmark::Counter::kIsRate);
}

// The hybrid Muon + AdamW update measured next to forward + backward in the same loop;
// `fraction_of_train_step` = optimizer time / forward+backward time.
void BM_OptimizerStep(benchmark::State& state) {
  const auto c = reference(true);
  MoeTransformer<float> model(c, 42);
  HybridOptimizer<float> optimizer(model.params(), HybridOptimizerSettings{});
  const auto batch = reference_batch(c);
  StepOptions options;
  double train_seconds = 0, optimizer_seconds = 0;
  for (auto _ : state) {
    WallTimer train;
    model.params().zero_grads();
    model.forward(batch, options);
    model.backward();
    Kokkos::fence();
    train_seconds += train.seconds();
    WallTimer step;
    optimizer.step(model.params(), 1.0);
    Kokkos::fence();
    optimizer_seconds += step.seconds();
  }
  state.counters["optimizer_ms"] = 1e3 * optimizer_seconds / state.iterations();
  state.counters["fraction_of_train_step"] = optimizer_seconds / train_seconds;
}

}  // namespace

BENCHMARK(BM_OptimizerStep)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK_CAPTURE(BM_TrainStep, moe, true)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);
BENCHMARK_CAPTURE(BM_TrainStep, dense_matched_active, false)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);
