// Router, load-balancing, z-loss, entropy and capacity checked against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>

#include "core/counter_rng.hpp"
#include "gradient_check.hpp"
#include "kernels/expert_dispatch.hpp"
#include "kernels/router.hpp"
#include "kernels/router_losses.hpp"
#include "kernels/token_grouping.hpp"
#include "tiny_model.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

struct Routed {
  RouterState<double> state;
  View1<int> offsets, order;
  BalanceStatistics<double> balance;
  RouterLossValues losses;
};

Routed route(const std::vector<std::vector<double>>& logits, int k,
             RouterRule rule = {Routing::token_choice, ScoreFunction::softmax, GateNorm::selected, 1.0, 1, 1,
                                GroupScore::max},
             LoadFractions fractions = LoadFractions::per_pick) {
  const int n = static_cast<int>(logits.size()), E = static_cast<int>(logits[0].size());
  Routed r{RouterState<double>(n, E, k, rule.score == ScoreFunction::sigmoid),
           View1<int>("offsets", E + 1),
           View1<int>("order", n * k),
           BalanceStatistics<double>{View2<double>("f", 1, E), {}, View1<double>("p", E)},
           {}};
  auto h = Kokkos::create_mirror_view(r.state.logits);
  for (int i = 0; i < n; ++i)
    for (int e = 0; e < E; ++e) h(i, e) = logits[i][e];
  Kokkos::deep_copy(r.state.logits, h);
  router_forward(r.state, RouterNoise{}, View1<double>("bias", E), rule);
  group_by_key(View1<int>(r.state.top_idx.data(), n * k), E, r.offsets, r.order);
  r.losses = router_losses(r.state, r.offsets, fractions, r.balance);
  return r;
}

std::vector<double> logs(std::initializer_list<double> values) {
  std::vector<double> out;
  for (double v : values) out.push_back(std::log(v));
  return out;
}

TEST(RouterValues, TopKTiesGoToTheLowerIndex) {
  const auto r = route({{1, 3, 3, 0}, {2, 2, 2, 2}, {0, 5, 1, 5}}, 2);
  EXPECT_EQ(to_vector(r.state.top_idx), (std::vector<double>{1, 2, 0, 1, 1, 3}));
  EXPECT_EQ(to_vector(r.state.gates), (std::vector<double>{0.5, 0.5, 0.5, 0.5, 0.5, 0.5}));
}

TEST(RouterValues, GatesAreTheSelectedProbabilitiesRenormalised) {
  const auto r = route({logs({1, 2, 3, 4})}, 2);  // P = 0.1, 0.2, 0.3, 0.4
  EXPECT_EQ(to_vector(r.state.top_idx), (std::vector<double>{3, 2}));
  const auto gates = to_vector(r.state.gates);
  EXPECT_NEAR(gates[0], 4.0 / 7.0, 1e-15);
  EXPECT_NEAR(gates[1], 3.0 / 7.0, 1e-15);
  const auto probs = to_vector(r.state.probs);
  for (int e = 0; e < 4; ++e) EXPECT_NEAR(probs[e], 0.1 * (e + 1), 1e-15);
}

TEST(RouterValues, UnnormalisedGatesAreTheSelectedProbabilities) {
  // Switch / OLMoE: g = P of each selected expert, summing to less than 1.
  const auto r = route({logs({1, 2, 3, 4}), logs({4, 3, 2, 1})}, 2,
                       {Routing::token_choice, ScoreFunction::softmax, GateNorm::none, 1.0, 1, 1, GroupScore::max});
  EXPECT_EQ(to_vector(r.state.top_idx), (std::vector<double>{3, 2, 0, 1}));
  const auto gates = to_vector(r.state.gates);
  const std::vector<double> expected = {0.4, 0.3, 0.4, 0.3};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(gates[i], expected[i], 1e-15);
  const auto top1 = route({logs({1, 2, 3, 4})}, 1,
                          {Routing::token_choice, ScoreFunction::softmax, GateNorm::none, 1.0, 1, 1, GroupScore::max});
  EXPECT_NEAR(to_vector(top1.state.gates)[0], 0.4, 1e-15);
}

// Logit log(x / (1 − x)) has sigmoid x: scores 0.1, 0.6, 0.3, 0.8 by construction.
std::vector<double> logits_of_scores(std::initializer_list<double> scores) {
  std::vector<double> out;
  for (double x : scores) out.push_back(std::log(x / (1 - x)));
  return out;
}

TEST(RouterValues, SigmoidScoresRenormalisedOverTheSelectionAndScaled) {
  // DeepSeek-V3: the top-2 sigmoid scores 0.8 and 0.6, g = 2.5 · s / (0.8 + 0.6).
  const auto r = route({logits_of_scores({0.1, 0.6, 0.3, 0.8})}, 2,
                       {Routing::token_choice, ScoreFunction::sigmoid, GateNorm::selected, 2.5, 1, 1, GroupScore::max});
  EXPECT_EQ(to_vector(r.state.top_idx), (std::vector<double>{3, 1}));
  const auto gates = to_vector(r.state.gates);
  EXPECT_NEAR(gates[0], 2.5 * 0.8 / 1.4, 1e-14);
  EXPECT_NEAR(gates[1], 2.5 * 0.6 / 1.4, 1e-14);
  // P for the balancing loss: the scores normalised over all four (sum 1.8).
  const auto probs = to_vector(r.state.probs);
  const std::vector<double> expected = {0.1 / 1.8, 0.6 / 1.8, 0.3 / 1.8, 0.8 / 1.8};
  for (int e = 0; e < 4; ++e) EXPECT_NEAR(probs[e], expected[e], 1e-14);
  // f = (0, ½, 0, ½): lb = 4 · (½ · 0.6 + ½ · 0.8) / 1.8.
  EXPECT_NEAR(r.losses.load_balancing, 4 * 0.5 * (0.6 + 0.8) / 1.8, 1e-14);
}

TEST(RouterValues, UnnormalisedSigmoidGatesAreTheScoresTimesTheScale) {
  const auto r = route({logits_of_scores({0.1, 0.6, 0.3, 0.8})}, 2,
                       {Routing::token_choice, ScoreFunction::sigmoid, GateNorm::none, 2.0, 1, 1, GroupScore::max});
  const auto gates = to_vector(r.state.gates);
  EXPECT_NEAR(gates[0], 1.6, 1e-14);
  EXPECT_NEAR(gates[1], 1.2, 1e-14);
}

TEST(RouterValues, GroupLimitedRoutingPicksFromTheBestGroupsOnly) {
  // Scores 0.9, 0.1 | 0.6, 0.6 in two groups of two, one group allowed, top-2. By its best score
  // (DeepSeek-V2) group 0 wins and both picks come from it, although expert 2 outscores expert 1;
  // by the sum of its top two (DeepSeek-V3) group 1 wins (1.2 > 1.0).
  const auto logits = logits_of_scores({0.9, 0.1, 0.6, 0.6});
  const auto by_max = route(
      {logits}, 2, {Routing::token_choice, ScoreFunction::sigmoid, GateNorm::selected, 1.0, 2, 1, GroupScore::max});
  EXPECT_EQ(to_vector(by_max.state.top_idx), (std::vector<double>{0, 1}));
  const auto by_sum =
      route({logits}, 2,
            {Routing::token_choice, ScoreFunction::sigmoid, GateNorm::selected, 1.0, 2, 1, GroupScore::topk_sum});
  EXPECT_EQ(to_vector(by_sum.state.top_idx), (std::vector<double>{2, 3}));
  // Both groups allowed: the plain top-2.
  const auto both = route(
      {logits}, 2, {Routing::token_choice, ScoreFunction::sigmoid, GateNorm::selected, 1.0, 2, 2, GroupScore::max});
  EXPECT_EQ(to_vector(both.state.top_idx), (std::vector<double>{0, 2}));
}

TEST(RouterValues, RandomRoutingDrawsItsLogitsFromTheCounterRng) {
  // Whatever x·W_r was, the logits become N(0, 1) draws of (seed, stream, n·E + e).
  const int n = 5, E = 4;
  RouterState<double> state(n, E, 2);
  Kokkos::deep_copy(state.logits, 3.0);
  const RouterNoise draws{1.0, 11, 77};
  router_forward(state, draws, View1<double>("bias", E),
                 {Routing::random, ScoreFunction::softmax, GateNorm::selected, 1.0, 1, 1, GroupScore::max});
  const auto logits = to_vector(state.logits);
  for (int i = 0; i < n * E; ++i) EXPECT_EQ(logits[i], rng::normal(11, 77, uint64_t(i))) << i;
}

TEST(RouterValues, TheBiasSteersSigmoidSelectionButNotTheGates) {
  // Bias +0.6 on expert 0 (score 0.1 → 0.7 for selection) puts it above expert 1 (0.6).
  const int E = 4;
  RouterState<double> state(1, E, 2, true);
  auto h = Kokkos::create_mirror_view(state.logits);
  const auto l = logits_of_scores({0.1, 0.6, 0.3, 0.8});
  for (int e = 0; e < E; ++e) h(0, e) = l[e];
  Kokkos::deep_copy(state.logits, h);
  View1<double> bias("bias", E);
  Kokkos::deep_copy(Kokkos::subview(bias, 0), 0.6);
  router_forward(state, RouterNoise{}, bias,
                 {Routing::token_choice, ScoreFunction::sigmoid, GateNorm::selected, 1.0, 1, 1, GroupScore::max});
  EXPECT_EQ(to_vector(state.top_idx), (std::vector<double>{3, 0}));
  const auto gates = to_vector(state.gates);
  EXPECT_NEAR(gates[0], 0.8 / 0.9, 1e-14);
  EXPECT_NEAR(gates[1], 0.1 / 0.9, 1e-14);
}

TEST(RouterValues, LoadBalancingLossOnAConstructedAssignment) {
  // Both tokens pick experts 0 and 1: f = (1/2, 1/2, 0, 0); P̄ = (0.4, 0.3, 0.2, 0.1).
  const auto r = route({logs({4, 3, 2, 1}), logs({4, 3, 2, 1})}, 2);
  EXPECT_EQ(to_vector(r.balance.fractions), (std::vector<double>{0.5, 0.5, 0, 0}));
  EXPECT_NEAR(r.losses.load_balancing, 4 * (0.5 * 0.4 + 0.5 * 0.3), 1e-14);  // = 1.4
  // Perfect balance gives exactly 1.
  const auto balanced = route({logs({4, 3, 2, 1}), logs({1, 2, 3, 4})}, 2);
  EXPECT_NEAR(balanced.losses.load_balancing, 1.0, 1e-14);
}

TEST(RouterValues, ZLossAndEntropy) {
  const auto r = route({logs({1, 2, 3, 4}), {0, 0, 0, 0}}, 1);
  // lse = log 10 and log 4.
  EXPECT_NEAR(r.losses.z_loss, (std::pow(std::log(10.0), 2) + std::pow(std::log(4.0), 2)) / 2, 1e-13);
  double h0 = 0;
  for (double p : {0.1, 0.2, 0.3, 0.4}) h0 -= p * std::log(p);
  EXPECT_NEAR(r.losses.entropy, (h0 + std::log(4.0)) / 2, 1e-13);
}

TEST(RouterValues, CapacityDropsTheLaterTokens) {
  // Four tokens, all choosing experts 0 and 1; capacity 2 per expert.
  const auto r = route({logs({4, 3, 2, 1}), logs({4, 3, 2, 1}), logs({4, 3, 2, 1}), logs({4, 3, 2, 1})}, 2);
  View1<int> slot_of("slot_of", 8);
  ExpertAssignment assignment;
  assignment.offsets = r.offsets;
  assignment.order = r.order;
  assignment.slot_of = slot_of;
  assignment.k = 2;
  assignment.capacity = 2;
  assign_slots(assignment);
  const auto offsets = Kokkos::create_mirror_view_and_copy(HostSpace(), r.offsets);
  EXPECT_EQ(dropped_assignments(offsets, 2, 2), 4);
  // Assignments a = n·2 + s; expert 0 rows 0..3 hold tokens 0..3 (slot 0), expert 1 rows 4..7.
  EXPECT_EQ(to_vector(slot_of), (std::vector<double>{0, 4, 1, 5, -1, -1, -1, -1}));
  EXPECT_EQ(dropped_assignments(offsets, 2, 0), 0);  // dropless
  assignment.capacity = 0;
  assign_slots(assignment);
  EXPECT_EQ(to_vector(slot_of), (std::vector<double>{0, 4, 1, 5, 2, 6, 3, 7}));
  // A dropped token's MoE output is zero: it keeps only its residual path.
  View2<double> expert_out("eo", 8, 1), out("out", 4, 1);
  Kokkos::deep_copy(expert_out, 1.0);
  assignment.capacity = 2;
  assign_slots(assignment);
  combine_forward(expert_out, r.state.gates, assignment, out);
  const auto o = to_vector(out);
  EXPECT_NEAR(o[0], 1.0, 1e-15);
  EXPECT_EQ(o[3], 0.0);
}

}  // namespace

namespace {

TEST(RoutingBias, MovesTowardBalanceAndSteersSelectionOnly) {
  const auto c = kmoe::testing::tiny_config();
  MoeTransformer<double> model(c, 1);
  ForwardResult update;
  update.layers.resize(c.n_layers);
  update.layers[0].expert_tokens = {10, 0, 5, 5};  // mean 5: expert 0 over, 1 under
  update.layers[1].expert_tokens = {5, 5, 5, 5};
  model.update_routing_bias(update, 0.25, false);
  EXPECT_EQ(model.routing_bias(), (std::vector<double>{-0.25, 0.25, 0, 0, 0, 0, 0, 0}));
  // Re-centred (torchtitan): layer 0's steps −¼, ¼, 0, 0 already have mean 0; an expert over the
  // mean alone (10, 4, 4, 2: mean 5) gives −¼, ¼, ¼, ¼ → mean ⅛ → −⅜, ⅛, ⅛, ⅛.
  update.layers[1].expert_tokens = {10, 4, 4, 2};
  model.update_routing_bias(update, 0.25, true);
  EXPECT_EQ(model.routing_bias(), (std::vector<double>{-0.5, 0.5, 0, 0, -0.375, 0.125, 0.125, 0.125}));
  model.set_routing_bias(std::vector<double>(8, 0.0));
  // A large bias on expert 3 of layer 0 makes every token select it; the loss still flows
  // through gates computed from the unbiased logits.
  const StepOptions eval = evaluation_step_options();
  const auto batch = kmoe::testing::tiny_batch(c);
  model.set_routing_bias({0, 0, 0, 100, 0, 0, 0, 0});
  const auto r = model.forward(batch, eval);
  EXPECT_EQ(r.layers[0].expert_tokens[3], r.tokens);
  EXPECT_TRUE(std::isfinite(r.total_loss));
}

}  // namespace
