// One full forward + backward of the reference model (d_model 384, 6 layers, 8 experts of
// width 1536, top-2, seq 512, batch 8, vocab 8192, dropout 0.1, noise 0.1), as tokens/s.
// The dense baseline at matched active FFN width runs alongside for comparison.
#include "model/moe_transformer.hpp"

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

void BM_TrainStep(benchmark::State& state, bool moe) {
  const auto c = reference(moe);
  MoeTransformer<float> model(c, 42);
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

}  // namespace

BENCHMARK_CAPTURE(BM_TrainStep, moe, true)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);
BENCHMARK_CAPTURE(BM_TrainStep, dense_matched_active, false)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);

int main(int argc, char** argv) {
  Kokkos::initialize(argc, argv);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  Kokkos::finalize();
  return 0;
}
