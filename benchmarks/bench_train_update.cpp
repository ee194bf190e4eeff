// Full training updates of the reference model (d_model 384, 6 layers, 8 experts of 1536, top-2,
// seq 512, vocab 8192, dropout 0.1, noise 0.1): grad_accum micro-batches of forward + backward,
// then the hybrid Muon + AdamW step, in fp32 and in bf16, at the reference micro-batch (8, update
// every micro-batch) and at the research's settings (24 × 512, grad_accum 4). Reports tokens/s
// and the model FLOPs per token for MFU (benchmarks/gpu_speed_table.py divides by the peak):
//   6 · (matrix-product parameters a token meets: q, k, v, o, router, its top-k experts, the
//   tied head) + 12 · layers · d_model · seq_len (attention scores and values, PaLM's count).
#include <benchmark/benchmark.h>

#include "core/wall_timer.hpp"
#include "model/moe_transformer.hpp"
#include "optim/hybrid_optimizer.hpp"
#include "synthetic_batch.hpp"
#include "train/deck_settings.hpp"

using namespace kmoe;

namespace {

double model_flops_per_token(const ModelConfig& c) {
  const double d = c.d_model;
  const double per_layer = 4 * d * d + d * c.num_experts + c.top_k * 2 * d * c.expert_d_ff;
  const double matrix_parameters = c.n_layers * per_layer + double(c.vocab_size) * d;
  return 6 * matrix_parameters + 12.0 * c.n_layers * d * c.seq_len;
}

// Arguments: micro-batch sequences, grad_accum, bf16 (0/1).
void BM_TrainUpdate(benchmark::State& state) {
  const int sequences = int(state.range(0)), accum = int(state.range(1));
  RunDeck deck;
  deck.train.grad_accum = accum;
  ModelConfig c = model_config_from_deck(deck);
  c.matmul = state.range(2) ? kernels::Matmul::bf16 : kernels::Matmul::fp32;
  MoeTransformer<float> model(c, 42);
  HybridOptimizerSettings settings = optimizer_settings_from_deck(deck);
  settings.muon.matmul = c.matmul;
  HybridOptimizer<float> optimizer(model.params(), settings);
  const auto batch = bench::synthetic_batch(c, sequences);
  StepOptions options = training_step_options(deck, 0, deck.moe.load_balancing_weight);
  const auto update = [&] {
    model.params().zero_grads();
    for (int micro = 0; micro < accum; ++micro, ++options.rng_step) {
      model.forward(batch, options);
      model.backward();
    }
    optimizer.step(model.params(), 1.0);
  };
  update();  // sizes every buffer
  Kokkos::fence();
  for (auto _ : state) {
    update();
    Kokkos::fence();
  }
  const double tokens = double(sequences) * c.seq_len * accum * state.iterations();
  state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.counters["model_flops_per_token"] = model_flops_per_token(c);
}

}  // namespace

BENCHMARK(BM_TrainUpdate)
    ->ArgNames({"batch", "accum", "bf16"})
    ->Args({8, 1, 0})
    ->Args({8, 1, 1})
    ->Args({24, 4, 0})
    ->Args({24, 4, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);
