// AdamW against the update rule computed on the host.
#include <gtest/gtest.h>

#include <cmath>

#include "gradient_check.hpp"
#include "optim/adamw.hpp"

using namespace kmoe;
using namespace kmoe::testing;

namespace {

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

}  // namespace
