// Host products cut into kmoe's tiles (kernels/gemm_tiles.hpp): the tiles cover the output and
// the tiled products equal a plain double-precision product, at shapes that split into many
// tiles with ragged edges. (That the bits do not depend on the thread count is checked across
// processes by tests/python/test_determinism.py.)
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.hpp"
#include "kernels/batched_gemm.hpp"
#include "kernels/dense_gemm.hpp"
#include "kernels/gemm_tiles.hpp"
#include "kernels/symmetric_gram.hpp"

using namespace kmoe;

namespace {

using HostMatrix = Kokkos::View<double**, Kokkos::LayoutRight, Kokkos::HostSpace>;

View2<double> filled(int rows, int cols, int salt) {
  View2<double> v("filled", rows, cols);
  Kokkos::parallel_for(
      "fill", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {rows, cols}),
      KOKKOS_LAMBDA(int i, int j) { v(i, j) = std::sin(0.37 * (i * cols + j) + salt); });
  return v;
}

HostMatrix on_host(const View2<double>& v) {
  HostMatrix h("host", v.extent(0), v.extent(1));
  Kokkos::deep_copy(h, v);
  return h;
}

// op(X)(i, j) of a row-major host matrix.
double op(const HostMatrix& x, bool trans, int i, int j) { return trans ? x(j, i) : x(i, j); }

void expect_near_matrix(const HostMatrix& expected, const View2<double>& got, const char* what) {
  const auto h = on_host(got);
  ASSERT_EQ(h.extent(0), expected.extent(0));
  ASSERT_EQ(h.extent(1), expected.extent(1));
  for (size_t i = 0; i < h.extent(0); ++i) {
    for (size_t j = 0; j < h.extent(1); ++j) {
      ASSERT_NEAR(h(i, j), expected(i, j), 1e-10 * (1 + std::fabs(expected(i, j)))) << what << " at " << i << ", " << j;
    }
  }
}

TEST(GemmTiles, CoverTheOutputWithTilesOfAtLeastTheMinimumSide) {
  const int shapes[][3] = {{4096, 384, 384}, {384, 384, 4096}, {4096, 8192, 384}, {100, 70, 4000}, {64, 320, 32}};
  for (const auto& s : shapes) {
    const auto t = kernels::gemm_tiles(s[0], s[1], s[2]);
    EXPECT_GE(long(t.rows) * t.row_tiles(s[0]), s[0]);
    EXPECT_GE(long(t.cols) * t.col_tiles(s[1]), s[1]);
    EXPECT_LT(long(t.rows) * (t.row_tiles(s[0]) - 1), s[0]);
    EXPECT_TRUE(t.rows == s[0] || t.rows >= 64) << t.rows;
    EXPECT_TRUE(t.cols == s[1] || t.cols >= 64) << t.cols;
  }
  // Large products give at least 16 tasks; a tiny one stays whole.
  const auto big = kernels::gemm_tiles(4096, 384, 384);
  EXPECT_GE(big.row_tiles(4096) * big.col_tiles(384), 16);
  const auto weight_grad = kernels::gemm_tiles(384, 384, 4096);
  EXPECT_GE(weight_grad.row_tiles(384) * weight_grad.col_tiles(384), 4);
  const auto tiny = kernels::gemm_tiles(64, 320, 32);
  EXPECT_EQ(tiny.row_tiles(64) * tiny.col_tiles(320), 1);
}

TEST(GemmTiles, TiledProductsEqualThePlainProductForEveryTransposition) {
  const int m = 300, n = 200, k = 170;  // ragged tiles in both directions
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      const auto a = ta ? filled(k, m, 1) : filled(m, k, 1);
      const auto b = tb ? filled(n, k, 2) : filled(k, n, 2);
      const auto c = filled(m, n, 3);
      const auto ha = on_host(a), hb = on_host(b), hc = on_host(c);
      HostMatrix expected("expected", m, n);
      for (int i = 0; i < m; ++i) {
        for (int j = 0; j < n; ++j) {
          double sum = 0;
          for (int p = 0; p < k; ++p) sum += op(ha, ta, i, p) * op(hb, tb, p, j);
          expected(i, j) = 0.5 * sum - 2.0 * hc(i, j);
        }
      }
      kernels::gemm<double>(ta ? "T" : "N", tb ? "T" : "N", 0.5, a, b, -2.0, c);
      expect_near_matrix(expected, c, ta ? (tb ? "TT" : "TN") : (tb ? "NT" : "NN"));
    }
  }
}

TEST(GemmTiles, ShapesThatDoNotAgreeAreAnErrorNamingThem) {
  const auto a = filled(30, 20, 1), b = filled(21, 10, 2);
  View2<double> c("c", 30, 10);
  try {
    kernels::gemm<double>("N", "N", 1.0, a, b, 0.0, c);
    FAIL() << "a 30x20 by 21x10 product was accepted";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("op(A) is 30x20"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("op(B) is 21x10"), std::string::npos) << err.what();
  }
  View2<double> wrong_c("c", 30, 11);
  EXPECT_THROW(kernels::gemm<double>("N", "T", 1.0, a, filled(10, 20, 3), 0.0, wrong_c), Error);
}

TEST(GemmTiles, SymmetricGramTilesEqualThePlainProductInBothOrientations) {
  const int rows = 230, cols = 300;  // 230×230 and 300×300 grams: ragged lower-triangle tiles
  const auto x = filled(rows, cols, 4);
  const auto hx = on_host(x);
  for (int transposed = 0; transposed < 2; ++transposed) {
    const int n = transposed ? cols : rows, k = transposed ? rows : cols;
    ASSERT_LT(kernels::gram_block(n, k), n);
    View2<double> gram("gram", n, n);
    kernels::symmetric_gram(x, transposed, gram);
    HostMatrix expected("expected", n, n);
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        double sum = 0;
        for (int p = 0; p < k; ++p) sum += transposed ? hx(p, i) * hx(p, j) : hx(i, p) * hx(j, p);
        expected(i, j) = sum;
      }
    }
    expect_near_matrix(expected, gram, transposed ? "XᵀX" : "XXᵀ");
  }
}

TEST(GemmTiles, GroupedProductsEqualThePlainProducts) {
  // Experts with 0, few and more rows than a row block, weights as Wᵀ (the forward) and as the
  // weight gradient's Aᵀ·B with accumulation.
  const std::vector<int> rows = {0, 5, 700, 300};
  const int in = 40, out = 24;
  int total = 0;
  for (int r : rows) total += r;
  const auto x = filled(total, in, 5), w = filled(int(rows.size()) * out, in, 6);
  View2<double> y("y", total, out);
  std::vector<kernels::GemmProblem<double>> problems;
  for (int e = 0, begin = 0; e < int(rows.size()); begin += rows[e], ++e) {
    problems.push_back({rows[e], out, in, x.data() + size_t(begin) * in, w.data() + size_t(e) * out * in,
                        y.data() + size_t(begin) * out});
  }
  kernels::grouped_gemm<double>(false, true, 1.0, in, in, 0.0, out, problems);
  const auto hx = on_host(x), hw = on_host(w);
  HostMatrix expected("expected", total, out);
  for (int e = 0, begin = 0; e < int(rows.size()); begin += rows[e], ++e) {
    for (int i = begin; i < begin + rows[e]; ++i) {
      for (int j = 0; j < out; ++j) {
        double sum = 0;
        for (int p = 0; p < in; ++p) sum += hx(i, p) * hw(e * out + j, p);
        expected(i, j) = sum;
      }
    }
  }
  expect_near_matrix(expected, y, "forward");

  // ∂W_e += Yᵀ_e · X_e over each expert's rows (k = the expert's row count).
  const auto dw = filled(int(rows.size()) * out, in, 7);
  const auto hdw = on_host(dw), hy = on_host(y);
  std::vector<kernels::GemmProblem<double>> grads;
  for (int e = 0, begin = 0; e < int(rows.size()); begin += rows[e], ++e) {
    grads.push_back({out, in, rows[e], y.data() + size_t(begin) * out, x.data() + size_t(begin) * in,
                     dw.data() + size_t(e) * out * in});
  }
  kernels::grouped_gemm<double>(true, false, 1.0, out, in, 1.0, in, grads);
  HostMatrix expected_dw("expected_dw", dw.extent(0), in);
  for (int e = 0, begin = 0; e < int(rows.size()); begin += rows[e], ++e) {
    for (int i = 0; i < out; ++i) {
      for (int j = 0; j < in; ++j) {
        double sum = hdw(e * out + i, j);
        for (int p = begin; p < begin + rows[e]; ++p) sum += hy(p, i) * hx(p, j);
        expected_dw(e * out + i, j) = sum;
      }
    }
  }
  expect_near_matrix(expected_dw, dw, "weight gradient");
}

}  // namespace
