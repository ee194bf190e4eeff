// Gradient clipping and the non-finite detector.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gradient_check.hpp"
#include "optim/grad_clip.hpp"

using namespace kmoe;
using namespace kmoe::testing;

namespace {

TEST(GradientClipping, NormTenClippedToOne) {
  View1<double> g("g", 100);
  OrderedSum sum;
  Kokkos::deep_copy(g, 1.0);  // norm 10
  EXPECT_NEAR(gradient_norm(g, sum), 10.0, 1e-12);
  clip_to_max_norm(g, 10.0, 1.0);
  EXPECT_NEAR(gradient_norm(g, sum), 1.0, 1e-6);
  Kokkos::deep_copy(g, 0.05);  // norm 0.5: untouched
  clip_to_max_norm(g, 0.5, 1.0);
  EXPECT_NEAR(gradient_norm(g, sum), 0.5, 1e-12);
}

TEST(GradientClipping, NonFiniteValuesAreDetected) {
  View1<float> g("g", 10);
  EXPECT_TRUE(all_finite(g));
  auto h = Kokkos::create_mirror_view(g);
  h(7) = std::nanf("");
  Kokkos::deep_copy(g, h);
  EXPECT_FALSE(all_finite(g));
}

}  // namespace
