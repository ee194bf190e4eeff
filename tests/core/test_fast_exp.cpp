// fast_exp against the correctly rounded exponential.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/fast_exp.hpp"
#include "core/views.hpp"

using namespace kmoe;

namespace {

int64_t ulp_distance(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, sizeof a);
  std::memcpy(&ib, &b, sizeof b);
  return std::llabs(int64_t(ia) - int64_t(ib));
}

// math::fast_exp of each value, computed in the model's execution space.
HostView1<float> fast_exp_where_the_model_runs(const std::vector<float>& xs) {
  View1<float> in("in", xs.size()), out("out", xs.size());
  auto host_in = Kokkos::create_mirror_view(in);
  for (size_t i = 0; i < xs.size(); ++i) host_in(i) = xs[i];
  Kokkos::deep_copy(in, host_in);
  Kokkos::parallel_for(
      "fast_exp", Range(0, xs.size()), KOKKOS_LAMBDA(size_t i) { out(i) = math::fast_exp(in(i)); });
  HostView1<float> host_out("host_out", xs.size());
  Kokkos::deep_copy(host_out, out);
  return host_out;
}

// 400,001 points across the normal-result range and ±2⁻ᵏ near zero, computed where the model
// computes them (the device on CUDA), against the correctly rounded exp.
TEST(FastExp, WithinTwoUlpOfTheCorrectlyRoundedValue) {
  std::vector<float> xs;
  const int n = 400000;
  for (int i = 0; i <= n; ++i) xs.push_back(float(-87.33 + (88.72 + 87.33) * i / n));
  for (int k = 1; k <= 40; ++k) {
    xs.push_back(std::ldexp(1.0f, -k));
    xs.push_back(-std::ldexp(1.0f, -k));
  }
  const auto host_out = fast_exp_where_the_model_runs(xs);
  int64_t worst = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    worst = std::max(worst, ulp_distance(host_out(i), float(std::exp(double(xs[i])))));
  }
  EXPECT_LE(worst, 2);
}

TEST(FastExp, ExactPointsAndTheEdges) {
  EXPECT_EQ(math::fast_exp(0.0f), 1.0f);
  EXPECT_EQ(math::fast_exp(-1.0e30f), 0.0f);  // below the normal range: 0, as softmax wants
  EXPECT_EQ(math::fast_exp(math::lowest<float>()), 0.0f);
  EXPECT_EQ(math::fast_exp(1.0e30f), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(math::fast_exp(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(math::fast_exp(0.5), std::exp(0.5));  // double: the library's exp
}

// The dropout mask compares integer words with a threshold; it must keep exactly the words whose
// uniform (w + ½)/2³² is ≥ p, including the words next to the boundary.

}  // namespace
