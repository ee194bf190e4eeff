// RoPE: its backward is the inverse rotation; the rotation's angles.
#include <gtest/gtest.h>

#include <cmath>

#include "gradient_check.hpp"
#include "kernels/rope.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

constexpr double kTolerance = 1e-6;

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

}  // namespace
