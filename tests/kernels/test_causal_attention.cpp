// Finite-difference checks of causal attention, and its forward against a naive T×T version.
#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "kernels/causal_attention.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

const AttentionShape kShape{2, 5, 2, 4};  // batch, seq, heads, head_dim
const int kRows = kShape.batch * kShape.seq_len, kCols = kShape.heads * kShape.head_dim;

void check_gradients(const AttentionDropout& dropout) {
  View2<double> q("q", kRows, kCols), k("k", kRows, kCols), v("v", kRows, kCols), out("out", kRows, kCols);
  View2<double> lse("lse", kRows, kShape.heads), dout("dout", kRows, kCols), dq("dq", kRows, kCols),
      dk("dk", kRows, kCols), dv("dv", kRows, kCols);
  AttentionWorkspace<double> workspace;
  fill_normal(q, 11);
  fill_normal(k, 12);
  fill_normal(v, 13);
  const auto loss = [&] {
    causal_attention_forward(kShape, q, k, v, dropout, out, lse, workspace);
    return weighted_sum(out);
  };
  loss();
  weighted_sum_grad(dout);
  causal_attention_backward(kShape, q, k, v, out, lse, dout, dropout, dq, dk, dv, workspace);
  EXPECT_LT(fd_relative_error(q, to_vector(dq), loss), 1e-6);
  EXPECT_LT(fd_relative_error(k, to_vector(dk), loss), 1e-6);
  EXPECT_LT(fd_relative_error(v, to_vector(dv), loss), 1e-6);
}

TEST(KernelGradients, CausalAttention) { check_gradients(AttentionDropout{}); }

// The backward reads the mask the forward recorded in `kept`.
TEST(KernelGradients, CausalAttentionWithProbabilityDropout) {
  check_gradients(AttentionDropout{0.25, 42, 3, View1<uint32_t>("kept", attention_kept_words(kShape))});
}

TEST(CausalAttention, MatchesNaiveSoftmaxAttention) {
  View2<double> q("q", kRows, kCols), k("k", kRows, kCols), v("v", kRows, kCols), out("out", kRows, kCols);
  View2<double> lse("lse", kRows, kShape.heads);
  fill_normal(q, 21, 2.0);  // large scores exercise the online-softmax rescaling
  fill_normal(k, 22, 2.0);
  fill_normal(v, 23);
  AttentionWorkspace<double> workspace;
  causal_attention_forward(kShape, q, k, v, AttentionDropout{}, out, lse, workspace);
  const auto hq = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), q);
  const auto hk = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), k);
  const auto hv = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  const auto ho = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  const int T = kShape.seq_len, hd = kShape.head_dim;
  for (int b = 0; b < kShape.batch; ++b)
    for (int h = 0; h < kShape.heads; ++h)
      for (int i = 0; i < T; ++i) {
        std::vector<double> s(i + 1);
        double mx = -1e300, sum = 0;
        for (int j = 0; j <= i; ++j) {
          s[j] = 0;
          for (int d = 0; d < hd; ++d) s[j] += hq(b * T + i, h * hd + d) * hk(b * T + j, h * hd + d);
          s[j] /= std::sqrt(double(hd));
          mx = std::max(mx, s[j]);
        }
        for (int j = 0; j <= i; ++j) sum += std::exp(s[j] - mx);
        for (int d = 0; d < hd; ++d) {
          double o = 0;
          for (int j = 0; j <= i; ++j) o += std::exp(s[j] - mx) / sum * hv(b * T + j, h * hd + d);
          EXPECT_NEAR(ho(b * T + i, h * hd + d), o, 1e-12);
        }
      }
}

}  // namespace
