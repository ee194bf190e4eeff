// Student's t quantiles and distribution function against tabulated values (R's qt / pt).
#include <gtest/gtest.h>

#include <cmath>

#include "study/student_t.hpp"

using namespace kmoe;

namespace {

TEST(StudentT, QuantilesMatchTheTables) {
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.7062047362, 1e-8);
  EXPECT_NEAR(student_t_quantile(0.975, 2), 4.3026527297, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 10), 2.2281388520, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 100), 1.9839715185, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.8, 5), 0.9195437802, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.025, 2), -4.3026527297, 1e-9);
}

TEST(StudentT, DistributionFunctionIsSymmetricAndMatchesClosedForms) {
  EXPECT_DOUBLE_EQ(student_t_cdf(0, 3), 0.5);
  // One degree of freedom is the Cauchy distribution: 1/2 + atan(t)/π.
  for (double t : {-3.0, -0.5, 0.7, 2.0, 40.0}) EXPECT_NEAR(student_t_cdf(t, 1), 0.5 + std::atan(t) / M_PI, 1e-12);
  // Two: 1/2 + t / (2 √(2 + t²)).
  for (double t : {-2.0, 0.3, 5.0}) EXPECT_NEAR(student_t_cdf(t, 2), 0.5 + t / (2 * std::sqrt(2 + t * t)), 1e-12);
}

}  // namespace
