// Finite-difference checks of the element-wise, norm, RoPE, linear and embedding backwards.
#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "kernels/dense_gemm.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/embedding.hpp"
#include "kernels/rmsnorm.hpp"
#include "kernels/rope.hpp"
#include "kernels/token_grouping.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

constexpr double kTolerance = 1e-6;

TEST(KernelGradients, RmsNorm) {
  const int n = 5, d = 12;
  View2<double> x("x", n, d), y("y", n, d), dy("dy", n, d), dx("dx", n, d);
  View1<double> g("g", d), dg("dg", d), rstd("rstd", n);
  fill_normal(x, 1);
  fill_normal(g, 2, 0.5);
  const auto loss = [&] {
    rmsnorm_forward(x, g, 1e-5, y, rstd);
    return weighted_sum(y);
  };
  loss();
  weighted_sum_grad(dy);
  rmsnorm_backward(x, g, rstd, dy, dx, dg, false);
  EXPECT_LT(fd_relative_error(x, to_vector(dx), loss), kTolerance);
  EXPECT_LT(fd_relative_error(g, to_vector(dg), loss), kTolerance);
}

TEST(KernelGradients, RopeBackwardIsInverseRotation) {
  const int seq = 4, heads = 2, hd = 6;
  View2<double> x("x", 2 * seq, heads * hd), y("y", 2 * seq, heads * hd), dy("dy", 2 * seq, heads * hd);
  fill_normal(x, 3);
  const RopeTable<double> table(seq, hd, 10000.0);
  const auto loss = [&] {
    Kokkos::deep_copy(y, x);
    rope_forward(y, table);
    return weighted_sum(y);
  };
  weighted_sum_grad(dy);
  rope_backward(dy, table);
  EXPECT_LT(fd_relative_error(x, to_vector(dy), loss), kTolerance);
}

TEST(KernelGradients, RopeRotatesInterleavedPairsByPositionAngle) {
  const int seq = 3, hd = 4;
  View2<double> x("x", seq, hd);
  auto h = Kokkos::create_mirror_view(x);
  for (int t = 0; t < seq; ++t)
    for (int j = 0; j < hd; ++j) h(t, j) = (j % 2 == 0) ? 1.0 : 0.0;  // (1, 0) in every pair
  Kokkos::deep_copy(x, h);
  rope_forward(x, RopeTable<double>(seq, hd, 100.0));
  Kokkos::deep_copy(h, x);
  // pair i at position p turns by p·100^(−2i/4): pair 0 by p, pair 1 by p/10.
  EXPECT_NEAR(h(2, 0), std::cos(2.0), 1e-12);
  EXPECT_NEAR(h(2, 1), std::sin(2.0), 1e-12);
  EXPECT_NEAR(h(2, 2), std::cos(0.2), 1e-12);
  EXPECT_NEAR(h(2, 3), std::sin(0.2), 1e-12);
  EXPECT_NEAR(h(0, 0), 1.0, 1e-15);
}

TEST(KernelGradients, Linear) {
  const int n = 4, in = 5, out = 3;
  View2<double> x("x", n, in), w("w", out, in), y("y", n, out), dy("dy", n, out), dx("dx", n, in), dw("dw", out, in);
  fill_normal(x, 4);
  fill_normal(w, 5);
  const auto loss = [&] {
    linear_forward(x, w, y);
    return weighted_sum(y);
  };
  weighted_sum_grad(dy);
  linear_backward_input(dy, w, dx);
  linear_backward_weight(dy, x, dw);
  EXPECT_LT(fd_relative_error(x, to_vector(dx), loss), kTolerance);
  EXPECT_LT(fd_relative_error(w, to_vector(dw), loss), kTolerance);
}

void check_silu_dropout(double p) {
  View2<double> x("x", 3, 7), y("y", 3, 7), dy("dy", 3, 7), dx("dx", 3, 7);
  View1<uint8_t> kept("kept", dropout_bit_bytes(3 * 7));
  fill_normal(x, 6, 2.0);
  const auto loss = [&] {
    silu_dropout_forward(x, y, p, 42, 9, kept);
    return weighted_sum(y);
  };
  weighted_sum_grad(dy);
  loss();  // the forward writes the mask bits the backward reads
  silu_dropout_backward(x, dy, dx, p, kept);
  EXPECT_LT(fd_relative_error(x, to_vector(dx), loss), kTolerance);
}

TEST(KernelGradients, Silu) { check_silu_dropout(0.0); }
TEST(KernelGradients, SiluWithDropout) { check_silu_dropout(0.3); }

TEST(Silu, ValueAndFusedMaskMatchDropoutApply) {
  View2<double> x("x", 4, 9), fused("fused", 4, 9), separate("separate", 4, 9);
  View1<uint8_t> kept("kept", dropout_bit_bytes(4 * 9));
  fill_normal(x, 10);
  silu_dropout_forward(x, fused, 0.0, 0, 0, kept);
  const auto plain = to_vector(fused), xs = to_vector(x);
  for (size_t i = 0; i < xs.size(); ++i) EXPECT_NEAR(plain[i], xs[i] / (1 + std::exp(-xs[i])), 1e-15);
  Kokkos::deep_copy(separate, fused);
  View1<uint8_t> separate_kept("separate_kept", dropout_bit_bytes(4 * 9));
  dropout_forward(separate, 0.4, 3, 4, separate_kept);
  silu_dropout_forward(x, fused, 0.4, 3, 4, kept);
  EXPECT_EQ(to_vector(fused), to_vector(separate));
  // the mask bits say which elements the dropout kept
  const auto host_kept = Kokkos::create_mirror_view_and_copy(HostSpace(), kept);
  const auto kept_values = to_vector(separate);
  for (size_t e = 0; e < kept_values.size(); ++e) {
    EXPECT_EQ(bool(host_kept(e / 8) >> (e % 8) & 1), kept_values[e] != 0.0) << e;
  }
}

TEST(KernelGradients, DropoutMaskIsReusedByTheBackward) {
  View2<double> x("x", 6, 8), y("y", 6, 8), dy("dy", 6, 8);
  View1<uint8_t> kept("kept", dropout_bit_bytes(6 * 8));
  fill_normal(x, 7);
  const auto loss = [&] {
    Kokkos::deep_copy(y, x);
    dropout_forward(y, 0.3, 42, 5, kept);
    return weighted_sum(y);
  };
  weighted_sum_grad(dy);
  loss();  // the forward records the mask the backward applies
  dropout_backward(dy, 0.3, kept);
  EXPECT_LT(fd_relative_error(x, to_vector(dy), loss), kTolerance);
  const auto dropped = to_vector(dy);
  const long zeros = std::count(dropped.begin(), dropped.end(), 0.0);
  EXPECT_GT(zeros, 5);  // about 0.3 · 48 = 14 of 48 dropped
  EXPECT_LT(zeros, 25);
}

TEST(KernelGradients, DropoutZeroIsExactlyIdentity) {
  View2<double> x("x", 3, 3);
  fill_normal(x, 8);
  const auto before = to_vector(x);
  dropout_forward(x, 0.0, 42, 5, View1<uint8_t>());
  EXPECT_EQ(to_vector(x), before);
}

TEST(KernelGradients, EmbeddingScatterAdd) {
  const int vocab = 6, d = 4, n = 7;
  View1<int> tokens("tokens", n), offsets("offsets", vocab + 1), order("order", n);
  auto ht = Kokkos::create_mirror_view(tokens);
  const int ids[n] = {3, 1, 3, 0, 5, 3, 1};
  for (int i = 0; i < n; ++i) ht(i) = ids[i];
  Kokkos::deep_copy(tokens, ht);
  View2<double> table("table", vocab, d), out("out", n, d), dout("dout", n, d), dtable("dtable", vocab, d);
  fill_normal(table, 9);
  const auto loss = [&] {
    embedding_forward(tokens, table, 2.5, out);
    return weighted_sum(out);
  };
  weighted_sum_grad(dout);
  group_by_key(tokens, vocab, offsets, order);
  embedding_backward(offsets, order, dout, 2.5, dtable);
  EXPECT_LT(fd_relative_error(table, to_vector(dtable), loss), kTolerance);
}

TEST(TokenGrouping, StableCountingSort) {
  const int n = 8;
  View1<int> keys("keys", n), offsets("offsets", 5), order("order", n);
  auto hk = Kokkos::create_mirror_view(keys);
  const int k[n] = {2, 0, 2, 3, 0, -1, 2, 0};
  for (int i = 0; i < n; ++i) hk(i) = k[i];
  Kokkos::deep_copy(keys, hk);
  group_by_key(keys, 4, offsets, order);
  const auto o = to_vector(offsets);
  EXPECT_EQ(o, (std::vector<double>{0, 3, 3, 6, 7}));
  const auto ord = to_vector(order);
  EXPECT_EQ(std::vector<double>(ord.begin(), ord.begin() + 7), (std::vector<double>{1, 4, 7, 0, 2, 6, 3}));
}

// Many chunks: every key's items in index order, on one reused workspace for two sizes.
TEST(TokenGrouping, ManyChunksMatchAPlainStableSort) {
  KeyGroupingWorkspace workspace;
  for (const int n : {5000, 777}) {
    const int num_keys = 37;
    View1<int> keys("keys", n), offsets("offsets", num_keys + 1), order("order", n);
    auto hk = Kokkos::create_mirror_view(keys);
    std::vector<std::vector<int>> expected(num_keys);
    for (int i = 0; i < n; ++i) {
      hk(i) = (i * 7919 + n) % 41 - 4;  // keys -4 .. 36, the negative ones skipped
      if (hk(i) >= 0) expected[hk(i)].push_back(i);
    }
    Kokkos::deep_copy(keys, hk);
    group_by_key(keys, num_keys, offsets, order, workspace);
    const auto o = Kokkos::create_mirror_view_and_copy(HostSpace(), offsets);
    const auto ord = Kokkos::create_mirror_view_and_copy(HostSpace(), order);
    int start = 0;
    for (int k = 0; k < num_keys; ++k) {
      ASSERT_EQ(o(k), start) << "key " << k;
      for (size_t j = 0; j < expected[k].size(); ++j) ASSERT_EQ(ord(start + j), expected[k][j]) << "key " << k;
      start += int(expected[k].size());
    }
    EXPECT_EQ(o(num_keys), start);
  }
}

}  // namespace
