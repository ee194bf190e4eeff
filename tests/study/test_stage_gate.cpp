// The promote rule on synthetic condition results with hand-worked outcomes, and the gate
// file round trip.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.hpp"
#include "study/stage_gate.hpp"

using namespace kmoe;

namespace {

ConditionResult condition(const std::string& noise, const std::string& lb, double loss, double cv, int runs = 3) {
  ConditionResult c;
  c.condition = "noise_std=" + noise + ",load_balancing_weight=" + lb;
  c.varied = {{"moe.noise_std", noise}, {"moe.load_balancing_weight", lb}};
  c.val_loss = loss;
  c.expert_cv = cv;
  c.runs = runs;
  return c;
}

const GateDecision& find(const std::vector<GateDecision>& d, const std::string& name) {
  for (const auto& x : d) {
    if (x.condition == name) return x;
  }
  throw Error("no decision for " + name);
}

}  // namespace

TEST(PromoteRule, EachConditionIsComparedWithItsOwnReferenceRow) {
  PromoteRule rule;
  rule.reference = "load_balancing_weight=0.01";
  rule.better_by = 0.05;
  rule.or_balance_within = 0.01;
  const std::vector<ConditionResult> results = {
      condition("0.0", "0.01", 3.00, 0.30), condition("0.0", "0.0", 2.94, 0.50),   // gain 0.06 >= 0.05
      condition("0.1", "0.01", 3.10, 0.30), condition("0.1", "0.0", 3.095, 0.20),  // gain 0.005, within 0.01, CV lower
      condition("0.5", "0.01", 3.20, 0.30), condition("0.5", "0.0", 3.19, 0.40),   // gain 0.01 < 0.05, CV higher
  };
  const auto d = decide_promotions(rule, results);
  ASSERT_EQ(d.size(), 6u);
  EXPECT_TRUE(find(d, "noise_std=0.0,load_balancing_weight=0.01").promoted);
  EXPECT_EQ(find(d, "noise_std=0.0,load_balancing_weight=0.01").reason, "reference condition");
  const auto& beats = find(d, "noise_std=0.0,load_balancing_weight=0.0");
  EXPECT_TRUE(beats.promoted);
  EXPECT_EQ(beats.reference, "noise_std=0.0,load_balancing_weight=0.01");
  EXPECT_NE(beats.reason.find("by 0.0600 >= 0.0500"), std::string::npos) << beats.reason;
  const auto& balanced = find(d, "noise_std=0.1,load_balancing_weight=0.0");
  EXPECT_TRUE(balanced.promoted);
  EXPECT_EQ(balanced.reference, "noise_std=0.1,load_balancing_weight=0.01");
  EXPECT_NE(balanced.reason.find("better balance"), std::string::npos) << balanced.reason;
  const auto& pruned = find(d, "noise_std=0.5,load_balancing_weight=0.0");
  EXPECT_FALSE(pruned.promoted);
  EXPECT_DOUBLE_EQ(pruned.reference_val_loss, 3.20);
  EXPECT_NE(pruned.reason.find("gain 0.0100 < 0.0500"), std::string::npos) << pruned.reason;
}

TEST(PromoteRule, WithoutTheBalanceClauseOnlyTheMarginCounts) {
  PromoteRule rule;
  rule.reference = "load_balancing_weight=0.01";
  rule.better_by = 0.05;
  const auto d = decide_promotions(rule, {condition("0.1", "0.01", 3.10, 0.30), condition("0.1", "0.0", 3.095, 0.20)});
  EXPECT_FALSE(find(d, "noise_std=0.1,load_balancing_weight=0.0").promoted);
}

TEST(PromoteRule, TopKeepsTheLowestLossesAndPrunesConditionsWithoutNumbers) {
  PromoteRule rule;
  rule.top = 2;
  const auto d = decide_promotions(rule, {condition("0.0", "0.01", 3.00, 0.3), condition("0.1", "0.01", 2.90, 0.3),
                                          condition("0.5", "0.01", 3.10, 0.3), condition("0.9", "0.01", 0, 0, 0)});
  EXPECT_TRUE(find(d, "noise_std=0.1,load_balancing_weight=0.01").promoted);
  EXPECT_TRUE(find(d, "noise_std=0.0,load_balancing_weight=0.01").promoted);
  EXPECT_FALSE(find(d, "noise_std=0.5,load_balancing_weight=0.01").promoted);
  EXPECT_NE(find(d, "noise_std=0.5,load_balancing_weight=0.01").reason.find("rank 3 of 3"), std::string::npos);
  EXPECT_FALSE(find(d, "noise_std=0.9,load_balancing_weight=0.01").promoted);
}

TEST(PromoteRule, AScreenAgainstOneReferenceCellUsesThatCellAndNumericEquality) {
  PromoteRule rule;
  rule.reference = "moe.load_balancing_weight=0";  // "0" names the same value as "0.0"
  rule.better_by = 0.02;
  std::vector<ConditionResult> results;
  for (const auto& [lb, loss] :
       std::vector<std::pair<std::string, double>>{{"0.0", 3.0}, {"0.005", 2.97}, {"0.01", 2.99}}) {
    ConditionResult c;
    c.condition = "load_balancing_weight=" + lb;
    c.varied = {{"moe.load_balancing_weight", lb}};
    c.val_loss = loss;
    c.runs = 1;
    results.push_back(c);
  }
  const auto d = decide_promotions(rule, results);
  EXPECT_TRUE(find(d, "load_balancing_weight=0.005").promoted);  // 0.03 better
  EXPECT_FALSE(find(d, "load_balancing_weight=0.01").promoted);  // 0.01 better
  EXPECT_EQ(find(d, "load_balancing_weight=0.01").reference, "load_balancing_weight=0.0");
}

TEST(PromoteRule, AnExplicitCellCanBeTheReferenceByName) {
  PromoteRule rule;
  rule.reference = "baseline";
  rule.better_by = 0.01;
  ConditionResult base, top1;
  base.condition = "baseline";
  base.varied = {{"moe.load_balancing_weight", "0.01"}};
  base.val_loss = 3.0;
  base.runs = 1;
  top1.condition = "top-1";
  top1.varied = {{"moe.top_k", "1"}};
  top1.val_loss = 2.98;
  top1.runs = 1;
  const auto d = decide_promotions(rule, {base, top1});
  EXPECT_EQ(find(d, "top-1").reference, "baseline");
  EXPECT_TRUE(find(d, "top-1").promoted);  // 0.02 better
}

TEST(PromoteRule, AnUnknownReferenceIsAnError) {
  PromoteRule rule;
  rule.reference = "load_balancing_weight=0.3";
  rule.better_by = 0.05;
  EXPECT_THROW(decide_promotions(rule, {condition("0.0", "0.01", 3.0, 0.3), condition("0.1", "0.01", 3.0, 0.3)}),
               Error);
}

TEST(GateFile, DecisionsSurviveTheRoundTrip) {
  GateRecord gate;
  gate.stage = "confirm";
  gate.at_step = 1000;
  GateDecision d;
  d.condition = "noise_std=0.5,load_balancing_weight=0.0";
  d.reason = "val loss 3.19 vs the reference's \"3.20\"";
  d.val_loss = 3.19;
  d.expert_cv = 0.4;
  d.runs = 3;
  d.reference = "noise_std=0.5,load_balancing_weight=0.01";
  d.reference_val_loss = 3.2;
  gate.decisions = {d};
  const auto path = (std::filesystem::path(::testing::TempDir()) / "kmoe_gate" / "confirm.toml").string();
  write_gate_file(path, gate);
  const auto back = read_gate_file(path);
  EXPECT_EQ(back.stage, "confirm");
  EXPECT_EQ(back.at_step, 1000);
  ASSERT_EQ(back.decisions.size(), 1u);
  EXPECT_EQ(back.decisions[0].reason, d.reason);
  EXPECT_FALSE(back.decisions[0].promoted);
  EXPECT_DOUBLE_EQ(back.decisions[0].val_loss, 3.19);
  EXPECT_EQ(back.decisions[0].reference, d.reference);
}
