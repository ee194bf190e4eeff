// LR and aux-coefficient schedules at their landmarks against closed forms.
#include <gtest/gtest.h>

#include <cmath>

#include "optim/schedules.hpp"

using namespace kmoe;

namespace {

const double kPi = std::acos(-1.0);

TEST(LrSchedule, CosineWarmupAndDecayLandmarks) {
  const LrScheduleSettings s{0.05, "cosine", 0.1, false, 1};
  const int64_t total = 1000, warmup = 50;
  EXPECT_DOUBLE_EQ(lr_multiplier(s, 0, total), 1.0 / warmup);  // first update: not zero
  EXPECT_DOUBLE_EQ(lr_multiplier(s, warmup - 1, total), 1.0);  // warm-up end
  EXPECT_DOUBLE_EQ(lr_multiplier(s, warmup, total), 1.0);      // decay starts at the peak
  const int64_t mid = warmup + (total - 1 - warmup) / 2;
  const double progress = double(mid - warmup) / double(total - 1 - warmup);
  EXPECT_NEAR(lr_multiplier(s, mid, total), 0.1 + 0.9 * 0.5 * (1 + std::cos(kPi * progress)), 1e-15);
  EXPECT_NEAR(lr_multiplier(s, total - 1, total), 0.1, 1e-15);  // last update: min ratio
}

TEST(LrSchedule, LinearAndConstantDecay) {
  LrScheduleSettings s{0.1, "linear", 0.2, false, 1};
  EXPECT_NEAR(lr_multiplier(s, 10, 101), 1.0, 1e-15);
  EXPECT_NEAR(lr_multiplier(s, 55, 101), 1.0 - 0.8 * 0.5, 1e-15);
  EXPECT_NEAR(lr_multiplier(s, 100, 101), 0.2, 1e-15);
  s.decay = "constant";
  EXPECT_DOUBLE_EQ(lr_multiplier(s, 100, 101), 1.0);
}

TEST(LrSchedule, LegacyReproducesTheResearchSchedule) {
  // 1000 micro-batches at grad_accum 4 = 250 updates; warm-up max_steps // 20 = 50 updates.
  const LrScheduleSettings s{0.05, "cosine", 0.1, true, 4};
  EXPECT_DOUBLE_EQ(lr_multiplier(s, 0, 250), 0.0);  // the first update had LR 0
  EXPECT_DOUBLE_EQ(lr_multiplier(s, 1, 250), 1.0 / 50);
  EXPECT_DOUBLE_EQ(lr_multiplier(s, 50, 250), 1.0);  // warm-up = 20 % of updates
  const double end = lr_multiplier(s, 249, 250);
  EXPECT_NEAR(end, 0.1 + 0.9 * 0.5 * (1 + std::cos(kPi * 199.0 / 950.0)), 1e-15);
  EXPECT_NEAR(end, 0.907, 0.002);  // ends near 0.91 × peak
}

TEST(AuxSchedule, HoldDecayHold) {
  const AuxScheduleSettings s{0.05, 0.01, 0.05, 0.3};
  const int64_t total = 20000;  // hold to 1000, reach the end value at 6000
  EXPECT_DOUBLE_EQ(aux_coefficient(s, 0, total), 0.05);
  EXPECT_DOUBLE_EQ(aux_coefficient(s, 1000, total), 0.05);
  EXPECT_NEAR(aux_coefficient(s, 3500, total), 0.03, 1e-15);
  EXPECT_DOUBLE_EQ(aux_coefficient(s, 6000, total), 0.01);
  EXPECT_DOUBLE_EQ(aux_coefficient(s, 19999, total), 0.01);
  EXPECT_DOUBLE_EQ(aux_coefficient(AuxScheduleSettings{0.02, 0.02, 0.1, 0.5}, 700, 1000), 0.02);
}

}  // namespace
