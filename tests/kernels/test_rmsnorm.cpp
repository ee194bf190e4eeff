// RMSNorm's backward by finite differences.
#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "kernels/rmsnorm.hpp"

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

}  // namespace
