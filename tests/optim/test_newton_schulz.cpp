// Newton–Schulz against an independent host computation; batches give each matrix its bits alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "gradient_check.hpp"
#include "host_newton_schulz.hpp"
#include "optim/newton_schulz.hpp"

using namespace kmoe;
using namespace kmoe::testing;

namespace {

std::vector<double> symmetric_eigenvalues(Matrix a, int n) {
  for (int sweep = 0; sweep < 30; ++sweep) {
    double off = 0;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) off += a[p * n + q] * a[p * n + q];
    if (off < 1e-22) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (std::fabs(apq) < 1e-300) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1 : -1) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  std::vector<double> eig(n);
  for (int i = 0; i < n; ++i) eig[i] = a[i * n + i];
  return eig;
}

void check_newton_schulz(int rows, int cols) {
  View2<float> g("g", rows, cols), out("out", rows, cols);
  fill_normal(g, 61);
  NewtonSchulz<float> ns;
  ns.run(g, 5, out);
  const auto x = to_vector(out);
  // Singular values² = eigenvalues of the small Gram matrix.
  const int small = std::min(rows, cols);
  const Matrix gram = rows > cols ? multiply(transpose(x, rows, cols), transpose(x, rows, cols), cols, rows, cols, true)
                                  : multiply(x, x, rows, cols, rows, true);
  const auto eig = symmetric_eigenvalues(gram, small);
  for (double e : eig) {
    EXPECT_GT(std::sqrt(std::max(e, 0.0)), 0.68);
    EXPECT_LT(std::sqrt(std::max(e, 0.0)), 1.22);
  }
  const auto reference = host_newton_schulz(to_vector(g), rows, cols, 5);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(x[i] - reference[i]));
  EXPECT_LT(worst, 1e-5);
}

TEST(NewtonSchulz, WideReferenceShapeLandsInTheQuinticBand) { check_newton_schulz(384, 1536); }
TEST(NewtonSchulz, TallReferenceShapeLandsInTheQuinticBand) { check_newton_schulz(1536, 384); }

// A batch of equal-shaped matrices gives each matrix the bits it gets alone, at shapes whose
// products the host cuts into several tiles (Muon updates its matrices grouped by shape).
TEST(NewtonSchulz, ABatchGivesEachMatrixItsBitsAlone) {
  for (const auto& [rows, cols] : {std::pair{384, 384}, std::pair{1536, 384}, std::pair{384, 1536}}) {
    for (const auto matmul : {kernels::Matmul::fp32, kernels::Matmul::bf16}) {
      const int count = 3;
      const size_t n = size_t(rows) * cols;
      View1<float> g("g", n * count), batched("batched", n * count);
      fill_normal(g, 17);
      NewtonSchulz<float> ns;
      ns.run(g.data(), rows, cols, count, 5, batched.data(), matmul);
      const auto all = to_vector(batched);
      for (int e = 0; e < count; ++e) {
        View2<float> one("one", rows, cols), alone("alone", rows, cols);
        Kokkos::deep_copy(View1<float>(one.data(), n), Kokkos::subview(g, Kokkos::make_pair(e * n, (e + 1) * n)));
        NewtonSchulz<float>().run(one, 5, alone, matmul);
        const auto expected = to_vector(alone);
        for (size_t i = 0; i < n; ++i) {
          ASSERT_EQ(all[e * n + i], expected[i])
              << rows << "x" << cols << " " << kernels::matmul_name(matmul) << " matrix " << e << " element " << i;
        }
      }
    }
  }
}

// The syrk-based Gram matrix equals the GEMM product, both triangles, both orientations.

}  // namespace
