// SiLU and dropout: values, fused masks and backwards by finite differences.
#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "kernels/elementwise.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

constexpr double kTolerance = 1e-6;

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

}  // namespace
