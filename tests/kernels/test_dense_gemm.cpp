// The linear layer's backwards by finite differences.
#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "kernels/dense_gemm.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

constexpr double kTolerance = 1e-6;

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

}  // namespace
