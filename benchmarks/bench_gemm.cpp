// kmoe's host products (tiles of single-threaded BLAS calls, kernels/gemm_tiles.hpp) next to the
// BLAS's own threaded call on every core, same operands, same run, at the shapes of one training
// step of the reference model (8 × 512 tokens, d_model 384, experts of 1536, vocab 8192) and of
// Newton–Schulz on its matrices. Reports GFLOP/s; the ratio of each pair is what kmoe's
// thread-count-independent tiling costs or gains.
#include <benchmark/benchmark.h>

#include <string>

#include "core/views.hpp"
#include "kernels/dense_gemm.hpp"
#include "kernels/host_blas.hpp"
#include "kernels/symmetric_gram.hpp"

namespace {

struct Shape {
  const char* name;
  bool trans_a, trans_b;
  int m, n, k;
  bool gram;  // a symmetric X·Xᵀ (m = n, X is m×k)
};

const Shape kShapes[] = {
    {"qkv_forward_4096x384x1152", false, true, 4096, 1152, 384, false},
    {"attn_out_input_grad_4096x384x384", false, false, 4096, 384, 384, false},
    {"attn_weight_grad_384x384x4096", true, false, 384, 384, 4096, false},
    {"expert_up_1024x1536x384", false, true, 1024, 1536, 384, false},
    {"expert_weight_grad_1536x384x1024", true, false, 1536, 384, 1024, false},
    {"lm_head_4096x8192x384", false, true, 4096, 8192, 384, false},
    {"lm_head_weight_grad_8192x384x4096", true, false, 8192, 384, 4096, false},
    {"ns_gram_384x384x1536", false, true, 384, 384, 1536, true},
    {"ns_gram_384x384x384", false, true, 384, 384, 384, true},
    {"ns_update_384x1536x384", false, false, 384, 1536, 384, false},
};

struct Operands {
  kmoe::View2<float> a, b, c;
  explicit Operands(const Shape& s)
      : a("a", s.trans_a ? s.k : s.m, s.trans_a ? s.m : s.k),
        b("b", s.trans_b ? s.n : s.k, s.trans_b ? s.k : s.n),
        c("c", s.m, s.n) {
    Kokkos::deep_copy(a, 0.5f);
    Kokkos::deep_copy(b, 0.25f);
  }
};

void report(benchmark::State& state, const Shape& s) {
  const double flops = (s.gram ? 1.0 : 2.0) * s.m * s.n * s.k;  // a gram computes one triangle
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
}

void kmoe_tiles(benchmark::State& state, Shape s) {
  Operands x(s);
  for (auto _ : state) {
    if (s.gram) {
      kmoe::kernels::symmetric_gram(x.a, false, x.c);
    } else {
      kmoe::kernels::gemm<float>(s.trans_a ? "T" : "N", s.trans_b ? "T" : "N", 1.0f, x.a, x.b, 0.0f, x.c);
    }
    Kokkos::fence();
  }
  report(state, s);
}

void blas_threaded(benchmark::State& state, Shape s) {
  Operands x(s);
  kmoe::kernels::set_host_blas_threads(kmoe::HostExec().concurrency());
  for (auto _ : state) {
    if (s.gram) {
      kmoe::kernels::host_syrk_lower(false, s.m, s.k, 1.0f, x.a.data(), s.k, 0.0f, x.c.data(), s.n);
    } else {
      kmoe::kernels::host_gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, x.a.data(), int(x.a.extent(1)), x.b.data(),
                               int(x.b.extent(1)), 0.0f, x.c.data(), s.n);
    }
  }
  kmoe::kernels::set_host_blas_threads(1);
  report(state, s);
}

// Each shape next to its threaded-BLAS twin, registered before the shared main runs. Host only:
// on a GPU build the operands live on the device.
const bool kRegistered = [] {
  if (!Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace, kmoe::MemSpace>::accessible) return false;
  for (const Shape& s : kShapes) {
    benchmark::RegisterBenchmark((std::string("kmoe_tiles/") + s.name).c_str(), kmoe_tiles, s)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((std::string("blas_threaded/") + s.name).c_str(), blas_threaded, s)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  return true;
}();

}  // namespace
