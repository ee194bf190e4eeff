// KokkosBlas::gemm at the shapes of a d_model = 384 model (8 x 512 tokens), next to a direct
// cblas_sgemm on the same operands, in the same run. Reports GFLOP/s.
#include "core/views.hpp"

#include <KokkosBlas3_gemm.hpp>
#include <benchmark/benchmark.h>
#ifdef KMOE_HAVE_CBLAS
#include <cblas.h>
#endif

namespace {

struct Shape {
  const char* name;
  int m, n, k;
};

// (tokens x in) * (in x out) products of one training step at the reference shapes.
const Shape kShapes[] = {
    {"qkv_4096x384x1152", 4096, 1152, 384},
    {"attn_out_4096x384x384", 4096, 384, 384},
    {"expert_up_1024x384x1536", 1024, 1536, 384},
    {"expert_down_1024x1536x384", 1024, 384, 1536},
    {"lm_head_4096x384x8192", 4096, 8192, 384},
    {"square_1024", 1024, 1024, 1024},
};

struct Operands {
  kmoe::View2<float> a, b, c;
  explicit Operands(const Shape& s)
      : a("a", s.m, s.k), b("b", s.k, s.n), c("c", s.m, s.n) {
    Kokkos::deep_copy(a, 0.5f);
    Kokkos::deep_copy(b, 0.25f);
  }
};

void report(benchmark::State& state, const Shape& s) {
  const double flops = 2.0 * s.m * s.n * s.k;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
}

void kokkos_gemm(benchmark::State& state, Shape s) {
  Operands x(s);
  for (auto _ : state) {
    KokkosBlas::gemm("N", "N", 1.0f, x.a, x.b, 0.0f, x.c);
    Kokkos::fence();
  }
  report(state, s);
}

#ifdef KMOE_HAVE_CBLAS
void direct_cblas(benchmark::State& state, Shape s) {
  Operands x(s);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1.0f, x.a.data(), s.k,
                x.b.data(), s.n, 0.0f, x.c.data(), s.n);
  }
  report(state, s);
}
#endif

// Each shape next to its cblas twin, registered before the shared main runs.
const bool kRegistered = [] {
  for (const Shape& s : kShapes) {
    benchmark::RegisterBenchmark((std::string("KokkosBlas_gemm/") + s.name).c_str(), kokkos_gemm, s)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
#ifdef KMOE_HAVE_CBLAS
    benchmark::RegisterBenchmark((std::string("cblas_sgemm/") + s.name).c_str(), direct_cblas, s)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
#endif
  }
  return true;
}();

}  // namespace
