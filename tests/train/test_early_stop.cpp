// The stop rule on synthetic trajectories whose outcome is worked out by hand.
#include <gtest/gtest.h>

#include "train/early_stop.hpp"

using namespace kmoe;

namespace {

EarlyStopSection rule() {
  EarlyStopSection r;
  r.patience = 2;
  r.min_delta = 0.01;
  r.slope_window = 4;
  r.max_slope = 0.001;
  r.routing_tolerance = 0.05;
  return r;
}

// Evaluations at steps 10, 20, …; a flat train loss and routing unless a test changes them.
StopEvidence plateau(std::vector<double> val_loss) {
  StopEvidence e;
  e.val_loss = std::move(val_loss);
  for (size_t i = 0; i < e.val_loss.size(); ++i) e.eval_steps.push_back(10 * int64_t(i + 1));
  e.train_loss.assign(10, 3.0);
  e.router_entropy.assign(10, 1.9);
  e.max_load_frac.assign(10, 0.2);
  return e;
}

}  // namespace

TEST(LeastSquaresSlope, MatchesHandComputedValues) {
  EXPECT_DOUBLE_EQ(least_squares_slope({1, 3, 5, 7}), 2.0);
  // x = 0..3, mean 1.5; y = 4, 4, 3, 1, mean 3: sxy = (-1.5)(1) + (-.5)(1) + (.5)(0) + (1.5)(-2) = -5, sxx = 5.
  EXPECT_DOUBLE_EQ(least_squares_slope({4, 4, 3, 1}), -1.0);
  EXPECT_DOUBLE_EQ(least_squares_slope({7}), 0.0);
}

TEST(EarlyStop, StopsWhenNoImprovementForPatienceEvaluationsAndEverythingIsFlat) {
  // Best before the last two evaluations: 2.50 (step 20); 2.495 and 2.492 improve by < 0.01.
  const auto why = early_stop_reason(rule(), plateau({2.9, 2.50, 2.495, 2.492}));
  EXPECT_NE(why.find("early stop at step 40"), std::string::npos) << why;
  EXPECT_NE(why.find("best, step 20"), std::string::npos) << why;
}

TEST(EarlyStop, GoesOnWhileTheValidationLossStillImprovesByMoreThanDelta) {
  EXPECT_EQ(early_stop_reason(rule(), plateau({2.9, 2.50, 2.495, 2.48})), "");  // 0.02 better than 2.50
}

TEST(EarlyStop, NeedsMoreThanPatienceEvaluations) { EXPECT_EQ(early_stop_reason(rule(), plateau({2.5, 2.5})), ""); }

TEST(EarlyStop, OffWithZeroPatience) {
  auto r = rule();
  r.patience = 0;
  EXPECT_EQ(early_stop_reason(r, plateau({2.9, 2.5, 2.5, 2.5})), "");
}

TEST(EarlyStop, GoesOnWhileTheTrainLossStillFalls) {
  auto e = plateau({2.9, 2.50, 2.50, 2.50});
  e.train_loss = {3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.006, 3.004, 3.002, 3.0};  // last 4: slope -0.002 < -0.001
  EXPECT_EQ(early_stop_reason(rule(), e), "");
  e.train_loss = {3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0015, 3.001, 3.0005, 3.0};  // slope -0.0005: flat enough
  EXPECT_NE(early_stop_reason(rule(), e), "");
}

TEST(EarlyStop, GoesOnWhileRoutingStillMoves) {
  auto e = plateau({2.9, 2.50, 2.50, 2.50});
  e.max_load_frac = {0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.30, 0.27, 0.24, 0.21};  // fitted change -0.09 over 3 steps
  EXPECT_EQ(early_stop_reason(rule(), e), "");
  e.max_load_frac.assign(10, 0.2);
  e.router_entropy = {1.9, 1.9, 1.9, 1.9, 1.9, 1.9, 1.80, 1.84, 1.88, 1.92};  // +0.12 over the window
  EXPECT_EQ(early_stop_reason(rule(), e), "");
}

TEST(EarlyStop, DenseModelsHaveNoRoutingCondition) {
  auto e = plateau({2.9, 2.50, 2.50, 2.50});
  e.router_entropy.clear();
  e.max_load_frac.clear();
  EXPECT_NE(early_stop_reason(rule(), e), "");
}
