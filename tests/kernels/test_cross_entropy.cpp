// Chunked tied-head cross-entropy: value against a direct computation, gradients against
// finite differences, and independence from the chunk size.
#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "kernels/cross_entropy.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

constexpr int kRows = 7, kVocab = 11, kDim = 5;

struct Fixture {
  View2<double> h{"h", kRows, kDim}, emb{"emb", kVocab, kDim}, dh{"dh", kRows, kDim}, demb{"demb", kVocab, kDim};
  View1<int> targets{"targets", kRows};
  Fixture() {
    fill_normal(h, 51);
    fill_normal(emb, 52);
    auto ht = Kokkos::create_mirror_view(targets);
    for (int r = 0; r < kRows; ++r) ht(r) = (3 * r + 1) % kVocab;
    Kokkos::deep_copy(targets, ht);
  }
  CrossEntropySums run(int chunk, bool grads) {
    const CrossEntropyScratch<double> scratch(chunk, kVocab);
    const View2<double> none;
    Kokkos::deep_copy(demb, 0.0);
    return tied_head_cross_entropy(h, emb, targets, scratch, 1.0 / kRows, grads ? dh : none, grads ? demb : none);
  }
};

TEST(CrossEntropy, MatchesDirectComputation) {
  Fixture fx;
  const auto sums = fx.run(3, false);
  const auto h = to_vector(fx.h), e = to_vector(fx.emb), t = to_vector(fx.targets);
  double loss = 0;
  int64_t correct = 0;
  for (int r = 0; r < kRows; ++r) {
    std::vector<double> logit(kVocab, 0.0);
    for (int v = 0; v < kVocab; ++v)
      for (int d = 0; d < kDim; ++d) logit[v] += h[r * kDim + d] * e[v * kDim + d];
    const double mx = *std::max_element(logit.begin(), logit.end());
    double sum = 0;
    for (double l : logit) sum += std::exp(l - mx);
    loss += mx + std::log(sum) - logit[int(t[r])];
    correct += (std::max_element(logit.begin(), logit.end()) - logit.begin()) == int(t[r]);
  }
  EXPECT_NEAR(sums.loss_sum, loss, 1e-12);
  EXPECT_EQ(sums.correct, correct);
}

TEST(KernelGradients, ChunkedTiedHeadCrossEntropy) {
  Fixture fx;
  fx.run(3, true);
  const auto dh = to_vector(fx.dh), demb = to_vector(fx.demb);
  const auto loss = [&] { return fx.run(3, false).loss_sum / kRows; };
  EXPECT_LT(fd_relative_error(fx.h, dh, loss), 1e-6);
  EXPECT_LT(fd_relative_error(fx.emb, demb, loss), 1e-6);
}

TEST(CrossEntropy, ChunkSizeDoesNotChangeResults) {
  Fixture fx;
  const auto a = fx.run(2, true);
  const auto dh_a = to_vector(fx.dh), demb_a = to_vector(fx.demb);
  const auto b = fx.run(kRows, true);
  EXPECT_NEAR(a.loss_sum, b.loss_sum, 1e-12);
  const auto dh_b = to_vector(fx.dh), demb_b = to_vector(fx.demb);
  for (size_t i = 0; i < dh_a.size(); ++i) EXPECT_NEAR(dh_a[i], dh_b[i], 1e-14);
  for (size_t i = 0; i < demb_a.size(); ++i) EXPECT_NEAR(demb_a[i], demb_b[i], 1e-14);
}

TEST(CrossEntropy, ArgmaxTiesGoToTheLowerIndex) {
  View2<double> h("h", 1, 1), emb("emb", 3, 1), none;
  View1<int> target("t", 1);
  Kokkos::deep_copy(h, 1.0);
  Kokkos::deep_copy(emb, 2.0);  // all logits equal
  auto ht = Kokkos::create_mirror_view(target);
  ht(0) = 0;
  Kokkos::deep_copy(target, ht);
  const auto sums = tied_head_cross_entropy(h, emb, target, CrossEntropyScratch<double>(1, 3), 1.0, none, none);
  EXPECT_EQ(sums.correct, 1);
  EXPECT_NEAR(sums.loss_sum, std::log(3.0), 1e-14);
}

}  // namespace
