// The kernels' shape checks name the kernel, the operand and both shapes; in builds that turn them
// on (debug), a kernel called with a wrong shape throws instead of reading past a buffer.
#include <gtest/gtest.h>

#include "core/extent_check.hpp"
#include "core/views.hpp"
#include "kernels/rmsnorm.hpp"

using namespace kmoe;

namespace {

TEST(ExtentCheck, NamesTheOperandAndBothShapes) {
  const View2<float> y("y", 3, 4);
  const View1<float> gain("gain", 5);
  EXPECT_EQ(extent_problem("y", y, 3, 4), "");
  EXPECT_EQ(extent_problem("y", y, -1, 4), "");
  EXPECT_EQ(extent_problem("y", y, 2, 4), "y is 3x4, expected 2x4");
  EXPECT_EQ(extent_problem("y", y, 3, -1), "");
  EXPECT_EQ(extent_problem("gain", gain, 4), "gain is 5, expected 4");
  try {
    require_extents("rmsnorm_forward", "gain", gain, 4);
    FAIL() << "no error";
  } catch (const Error& err) {
    EXPECT_STREQ(err.what(), "rmsnorm_forward: gain is 5, expected 4");
  }
}

#ifdef KMOE_CHECK_EXTENTS
TEST(ExtentCheck, AKernelCalledWithAWrongShapeSaysWhichInDebugBuilds) {
  const View2<float> x("x", 3, 4), y("y", 3, 4);
  const View1<float> gain("gain", 5), rstd("rstd", 3);
  try {
    kernels::rmsnorm_forward(x, gain, 1e-6f, y, rstd);
    FAIL() << "no error";
  } catch (const Error& err) {
    EXPECT_STREQ(err.what(), "rmsnorm_forward: gain is 5, expected 4");
  }
}
#endif

}  // namespace
