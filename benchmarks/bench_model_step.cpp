// One full forward + backward of the reference model (d_model 384, 6 layers, 8 experts of
// width 1536, top-2, seq 512, batch 8, vocab 8192, dropout 0.1, noise 0.1), as tokens/s, beside
// its GEMM-bound limit (the step's matrix products alone at the BLAS rate measured at their
// shapes in the same run) and the fraction of that limit reached. `moe_without_dropout` turns
// dropout and router noise off, which is the work torch_moe.py does. The dense baseline at
// matched active FFN width runs alongside for comparison.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

#include "core/wall_timer.hpp"
#include "kernels/dense_gemm.hpp"
#include "kernels/host_blas.hpp"
#include "model/moe_transformer.hpp"
#include "optim/hybrid_optimizer.hpp"
#include "synthetic_batch.hpp"
#include "train/deck_settings.hpp"

using namespace kmoe;

namespace {

constexpr int kBatch = 8;

StepOptions default_training_options() {
  const RunDeck deck;
  return training_step_options(deck, 0, deck.moe.load_balancing_weight);
}

ModelConfig reference(bool moe, bool research_dropout = true) {
  ModelConfig c = model_config_from_deck(RunDeck{});
  if (!research_dropout) c.dropout = c.noise_std = 0;
  c.vocab_size = 8192;
  c.moe = moe;
  c.d_ff = 2 * c.expert_d_ff;  // dense baseline with the MoE's active FFN width (top-2)
  return c;
}

// One product C[m×n] = A[m×k]·B[k×n] of the forward pass, done `count` times per micro-batch.
struct ForwardProduct {
  int m, n, k, count;
};

// The forward pass's matrix products (experts at a balanced load); the backward pass does two
// products of the same size for each (input and weight gradients; attention's four for two).
std::vector<ForwardProduct> forward_products(const ModelConfig& c) {
  const int tokens = kBatch * c.seq_len, d = c.d_model, layers = c.n_layers;
  std::vector<ForwardProduct> products = {
      {tokens, d, d, 4 * layers},                                         // q, k, v, o
      {c.seq_len, c.seq_len, c.head_dim(), kBatch * c.n_heads * layers},  // Q·Kᵀ per head
      {c.seq_len, c.head_dim(), c.seq_len, kBatch * c.n_heads * layers},  // P·V per head
      {tokens, c.vocab_size, d, 1},                                       // tied head
  };
  if (c.moe) {
    const int per_expert = tokens * c.top_k / c.num_experts;
    products.push_back({tokens, c.num_experts, d, layers});  // router
    products.push_back({per_expert, c.expert_d_ff, d, c.num_experts * layers});
    products.push_back({per_expert, d, c.expert_d_ff, c.num_experts * layers});
  } else {
    products.push_back({tokens, c.d_ff, d, layers});
    products.push_back({tokens, d, c.d_ff, layers});
  }
  return products;
}

// Seconds one forward + backward would take if it were nothing but its matrix products, each at
// the rate this process's BLAS reaches at that shape with its own threads on every core (median
// of 5; backward products timed at their forward shape), and the step's product FLOPs. kmoe
// itself runs the BLAS single-threaded on tiles of its own (kernels/host_blas.hpp).
std::pair<double, double> gemm_bound_seconds(const ModelConfig& c) {
  double seconds = 0, flops = 0;
  for (const auto& p : forward_products(c)) {
    View2<float> a("a", p.m, p.k), b("b", p.k, p.n), out("c", p.m, p.n);
    Kokkos::deep_copy(a, 0.5f);
    Kokkos::deep_copy(b, 0.25f);
    std::vector<double> times;
    constexpr bool host = Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace, MemSpace>::accessible;
    if (host) kernels::set_host_blas_threads(HostExec().concurrency());
    for (int repeat = 0; repeat < 6; ++repeat) {
      WallTimer timer;
      if constexpr (host) {
        kernels::host_gemm(false, false, p.m, p.n, p.k, 1.0f, a.data(), p.k, b.data(), p.n, 0.0f, out.data(), p.n);
      } else {
        kernels::gemm<float>("N", "N", 1.0f, a, b, 0.0f, out);
        Kokkos::fence();
      }
      if (repeat > 0) times.push_back(timer.seconds());  // the first call warms up
    }
    if (host) kernels::set_host_blas_threads(1);
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    seconds += 3.0 * p.count * times[times.size() / 2];
    flops += 3.0 * p.count * 2.0 * p.m * p.n * p.k;
  }
  return {seconds, flops};
}

// Each iteration times one step and then, timer paused, the GEMM-bound limit: on a noisy
// machine the two see the same conditions, and the median of the per-iteration fractions is
// reported.
void BM_TrainStep(benchmark::State& state, bool moe, bool research_dropout) {
  const auto c = reference(moe, research_dropout);
  MoeTransformer<float> model(c, 42);
  const auto batch = bench::synthetic_batch(c, kBatch);
  const int tokens = kBatch * c.seq_len;
  StepOptions options = default_training_options();
  model.forward(batch, options);  // the first step sizes the buffers and touches their pages
  model.backward();
  Kokkos::fence();
  std::vector<double> fractions, limits;
  double gemm_flops = 0, gemm_seconds = 0;
  for (auto _ : state) {
    WallTimer timer;
    model.params().zero_grads();
    model.forward(batch, options);
    model.backward();
    Kokkos::fence();
    const double step_seconds = timer.seconds();
    ++options.rng_step;
    state.PauseTiming();
    const auto [seconds, flops] = gemm_bound_seconds(c);
    fractions.push_back(seconds / step_seconds);
    limits.push_back(seconds);
    gemm_flops += flops;
    gemm_seconds += seconds;
    state.ResumeTiming();
  }
  const auto median = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  state.counters["tokens/s"] = benchmark::Counter(double(tokens) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["gemm_limit_tokens/s"] = tokens / median(limits);
  state.counters["fraction_of_gemm_limit"] = median(fractions);
  state.counters["gemm_GFLOP/s"] = gemm_flops / gemm_seconds * 1e-9;
}

// The hybrid Muon + AdamW update measured next to forward + backward in the same loop;
// `fraction_of_train_step` = optimizer time / forward+backward time.
void BM_OptimizerStep(benchmark::State& state) {
  const auto c = reference(true);
  MoeTransformer<float> model(c, 42);
  HybridOptimizer<float> optimizer(model.params(), optimizer_settings_from_deck(RunDeck{}));
  const auto batch = bench::synthetic_batch(c, kBatch);
  StepOptions options = default_training_options();
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
BENCHMARK_CAPTURE(BM_TrainStep, moe, true, true)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(BM_TrainStep, moe_without_dropout, true, false)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK_CAPTURE(BM_TrainStep, dense_matched_active, false, true)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
