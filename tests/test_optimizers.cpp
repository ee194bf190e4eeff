// AdamW, Muon, Newton–Schulz and gradient clipping against independent host computations.
#include <gtest/gtest.h>

#include <cmath>

#include "gradient_check.hpp"
#include "kernels/dense_gemm.hpp"
#include "kernels/symmetric_gram.hpp"
#include "optim/adamw.hpp"
#include "optim/grad_clip.hpp"
#include "optim/muon.hpp"
#include "optim/newton_schulz.hpp"

using namespace kmoe;
using namespace kmoe::testing;

namespace {

using Matrix = std::vector<double>;  // row-major

Matrix multiply(const Matrix& a, const Matrix& b, int n, int k, int m, bool transpose_b = false) {
  Matrix c(size_t(n) * m, 0.0);
  for (int i = 0; i < n; ++i)
    for (int p = 0; p < k; ++p) {
      const double aip = a[size_t(i) * k + p];
      if (transpose_b) {
        for (int j = 0; j < m; ++j) c[size_t(i) * m + j] += aip * b[size_t(j) * k + p];
      } else {
        for (int j = 0; j < m; ++j) c[size_t(i) * m + j] += aip * b[size_t(p) * m + j];
      }
    }
  return c;
}

Matrix transpose(const Matrix& a, int rows, int cols) {
  Matrix t(a.size());
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) t[size_t(j) * rows + i] = a[size_t(i) * cols + j];
  return t;
}

// Plain double-precision quintic Newton–Schulz, written from the definition (wide form).
Matrix host_newton_schulz(Matrix x, int rows, int cols, int steps) {
  const bool tall = rows > cols;
  if (tall) {
    x = transpose(x, rows, cols);
    std::swap(rows, cols);
  }
  double norm = 0;
  for (double v : x) norm += v * v;
  norm = std::sqrt(norm) + 1e-7;
  for (double& v : x) v /= norm;
  for (int s = 0; s < steps; ++s) {
    const Matrix a = multiply(x, x, rows, cols, rows, true);  // X Xᵀ
    const Matrix aa = multiply(a, a, rows, rows, rows);
    Matrix b(a.size());
    for (size_t i = 0; i < b.size(); ++i) b[i] = -4.7750 * a[i] + 2.0315 * aa[i];
    const Matrix bx = multiply(b, x, rows, rows, cols);
    for (size_t i = 0; i < x.size(); ++i) x[i] = 3.4445 * x[i] + bx[i];
  }
  return tall ? transpose(x, rows, cols) : x;
}

// Eigenvalues of a symmetric matrix by cyclic Jacobi rotations.
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
TEST(SymmetricGram, MatchesTheGemmProduct) {
  View2<double> x("x", 5, 9);
  fill_normal(x, 12);
  for (const bool transposed : {false, true}) {
    const int n = transposed ? 9 : 5;
    View2<double> gram("gram", n, n), reference("reference", n, n);
    Kokkos::deep_copy(gram, 1e9);  // every element must be written
    kernels::symmetric_gram(x, transposed, gram);
    kernels::gemm<double>(transposed ? "T" : "N", transposed ? "N" : "T", 1.0, x, x, 0.0, reference);
    const auto g = to_vector(gram), r = to_vector(reference);
    for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], r[i], 1e-13) << (transposed ? "XᵀX " : "XXᵀ ") << i;
  }
}

TEST(AdamW, ThreeStepsMatchTheUpdateRuleOnTwoSegments) {
  // Flat buffer of 7: segment A = [0, 3), segment B = [5, 7); elements 3, 4 are not AdamW's.
  View1<double> params("p", 7), grads("g", 7);
  fill_normal(params, 71);
  const AdamWSettings s{0.9, 0.999, 1e-8, 0.1};
  AdamW<double> opt({Segment{0, 3}, Segment{5, 2}}, s);
  auto p = to_vector(params);
  std::vector<double> m(7, 0), v(7, 0);
  const double lr = 0.01;
  for (int step = 1; step <= 3; ++step) {
    fill_normal(grads, 80 + step);
    const auto g = to_vector(grads);
    opt.update(params, grads, lr, step);
    for (int i : {0, 1, 2, 5, 6}) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      const double mhat = m[i] / (1 - std::pow(0.9, step)), vhat = v[i] / (1 - std::pow(0.999, step));
      p[i] = p[i] * (1 - lr * 0.1) - lr * mhat / (std::sqrt(vhat) + 1e-8);
    }
  }
  const auto got = to_vector(params);
  for (int i = 0; i < 7; ++i) EXPECT_NEAR(got[i], p[i], 1e-14) << i;
}

TEST(AdamW, Float32MomentsUseOneMinusBetaComputedInDouble) {
  // 1 - float(0.999) is 1.3e-5 (relative) too small; the moments must use 1 - 0.999 rounded once.
  View1<float> params("p", 4), grads("g", 4);
  Kokkos::deep_copy(params, 0.0f);
  Kokkos::deep_copy(grads, 3.0f);
  AdamW<float> opt({Segment{0, 4}}, AdamWSettings{0.9, 0.999, 1e-8, 0.0});
  opt.update(params, grads, 0.01, 1);
  const auto v = Kokkos::create_mirror_view_and_copy(HostSpace(), opt.second_moment());
  const auto m = Kokkos::create_mirror_view_and_copy(HostSpace(), opt.first_moment());
  EXPECT_NEAR(v(0), (1.0 - 0.999) * 9.0, 1e-7 * 9e-3);
  EXPECT_NEAR(m(0), (1.0 - 0.9) * 3.0, 1e-7 * 0.3);
}

// One Muon step on a 6×4 matrix (rows > cols: scale √1.5) against the host definition.
std::vector<double> muon_step(bool nesterov, const std::vector<double>& g0, const std::vector<double>& g1) {
  View1<double> params("p", 24), grads("g", 24);
  Kokkos::deep_copy(params, 1.0);
  Muon<double> opt({MatrixSegment{0, 6, 4}}, MuonSettings{0.9, nesterov, 5, kernels::Matmul::fp32});
  for (const auto* g : {&g0, &g1}) {
    auto h = Kokkos::create_mirror_view(grads);
    for (int i = 0; i < 24; ++i) h(i) = (*g)[i];
    Kokkos::deep_copy(grads, h);
    opt.update(params, grads, 0.1);
  }
  return to_vector(params);
}

TEST(Muon, TwoStepsMatchTheHostDefinitionWithAndWithoutNesterov) {
  std::vector<double> g0(24), g1(24);
  for (int i = 0; i < 24; ++i) {
    g0[i] = rng::normal(5, 1, i);
    g1[i] = rng::normal(5, 2, i);
  }
  for (bool nesterov : {true, false}) {
    std::vector<double> p(24, 1.0), m(24, 0.0);
    for (const auto* g : {&g0, &g1}) {
      std::vector<double> u(24);
      for (int i = 0; i < 24; ++i) {
        m[i] += 0.1 * ((*g)[i] - m[i]);
        u[i] = nesterov ? 0.1 * (*g)[i] + 0.9 * m[i] : m[i];
      }
      const auto x = host_newton_schulz(u, 6, 4, 5);
      for (int i = 0; i < 24; ++i) p[i] -= 0.1 * std::sqrt(1.5) * x[i];
    }
    const auto got = muon_step(nesterov, g0, g1);
    for (int i = 0; i < 24; ++i) EXPECT_NEAR(got[i], p[i], 1e-12) << "nesterov " << nesterov;
  }
  EXPECT_NE(muon_step(true, g0, g1), muon_step(false, g0, g1));
}

TEST(GradientClipping, NormTenClippedToOne) {
  View1<double> g("g", 100);
  OrderedSum sum;
  Kokkos::deep_copy(g, 1.0);  // norm 10
  EXPECT_NEAR(clip_gradient_norm(g, 1.0, sum), 10.0, 1e-12);
  EXPECT_NEAR(gradient_norm(g, sum), 1.0, 1e-6);
  Kokkos::deep_copy(g, 0.05);  // norm 0.5: untouched
  EXPECT_NEAR(clip_gradient_norm(g, 1.0, sum), 0.5, 1e-12);
  EXPECT_NEAR(gradient_norm(g, sum), 0.5, 1e-12);
}

TEST(GradientClipping, NonFiniteValuesAreDetected) {
  View1<float> g("g", 10);
  EXPECT_TRUE(all_finite(g));
  auto h = Kokkos::create_mirror_view(g);
  h(7) = std::nanf("");
  Kokkos::deep_copy(g, h);
  EXPECT_FALSE(all_finite(g));
}

}  // namespace
