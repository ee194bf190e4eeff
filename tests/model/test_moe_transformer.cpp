// Whole-model finite-difference gradient checks (double precision) on a tiny configuration.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "gradient_check.hpp"
#include "kernels/hash_routing.hpp"
#include "tiny_model.hpp"

using namespace kmoe;
using namespace kmoe::testing;

namespace {

StepOptions training_options(double lb_weight, double z_weight) {
  StepOptions o = default_training_options();
  o.rng_step = 3;
  o.lb_weight = lb_weight;
  o.z_weight = z_weight;
  o.grad_scale = 0.5;
  return o;
}

// Checks every parameter tensor's gradient against central differences of the total loss.
void check_gradients(MoeTransformer<double>& model, const StepOptions& options) {
  const auto batch = tiny_batch(model.config());
  model.params().zero_grads();
  model.forward(batch, options);
  model.backward();
  const auto grads = to_vector(model.params().grads());
  const auto loss = [&] { return options.grad_scale * model.forward(batch, options).total_loss; };
  const auto& specs = model.params().specs();
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto tensor = model.params().vector(static_cast<int>(i));
    const std::vector<double> analytic(grads.begin() + specs[i].offset,
                                       grads.begin() + specs[i].offset + specs[i].size());
    EXPECT_LT(fd_relative_error(tensor, analytic, loss), 1e-6) << specs[i].name;
  }
}

void check_model(const ModelConfig& config, const StepOptions& options) {
  MoeTransformer<double> model(config, 7);
  check_gradients(model, options);
}

TEST(ModelGradients, MoeWithLoadBalancingAndZLoss) { check_model(tiny_config(), training_options(0.3, 0.05)); }

TEST(ModelGradients, MoeWithRouterNoise) {
  auto c = tiny_config();
  c.noise_std = 0.5;
  check_model(c, training_options(0.3, 0.05));
}

TEST(ModelGradients, MoeWithDropoutAtAllSites) {
  auto c = tiny_config();
  c.dropout = 0.2;
  check_model(c, training_options(0.1, 0.01));
}

TEST(ModelGradients, MoeWithCapacityDropping) {
  auto c = tiny_config();
  c.capacity_factor = 0.5;  // capacity 2 of 4 (token, slot) pairs per expert on average
  check_model(c, training_options(0.1, 0.01));
}

TEST(ModelGradients, MoeTopOneWithGatesFromAllExperts) {
  auto c = tiny_config();
  c.top_k = 1;
  c.router_rule.norm = kernels::GateNorm::none;
  c.noise_std = 0.5;
  check_model(c, training_options(0.1, 0.01));
}

TEST(ModelGradients, MoeWithSigmoidScoresAndScaledGates) {
  auto c = tiny_config();
  c.router_rule = {
      kernels::Routing::token_choice, kernels::ScoreFunction::sigmoid, kernels::GateNorm::selected, 2.5, 1, 1,
      kernels::GroupScore::max};
  c.noise_std = 0.3;
  check_model(c, training_options(0.1, 0.01));
  c.router_rule.norm = kernels::GateNorm::none;
  check_model(c, training_options(0.1, 0.01));
}

TEST(ModelGradients, MoeWithSharedExpertsUnderEachGate) {
  for (const auto gate : {kernels::SharedGate::none, kernels::SharedGate::sigmoid, kernels::SharedGate::convex}) {
    auto c = tiny_config();
    c.shared_experts = 2;
    c.shared_d_ff = 3;
    c.shared_gate = gate;
    c.dropout = 0.2;  // the shared experts' own dropout mask is reused by their backward
    SCOPED_TRACE(int(gate));
    check_model(c, training_options(0.1, 0.01));
  }
}

// Random routing (Megatron's force-balance baseline): the router's weights change nothing in the
// forward (the logits are random draws), yet they receive the logits' gradient straight through.
TEST(ModelGradients, RandomRoutingPassesTheGradientStraightThroughToTheRouter) {
  auto c = tiny_config();
  c.router_rule.routing = kernels::Routing::random;
  const auto batch = tiny_batch(c);
  MoeTransformer<double> a(c, 7), b(c, 7);
  const int router = a.params().index_of("blocks.0.router");
  Kokkos::deep_copy(b.params().vector(router), 0.5);
  const auto options = training_options(0.1, 0.01);
  a.params().zero_grads();
  const auto ra = a.forward(batch, options);
  a.backward();
  EXPECT_EQ(ra.total_loss, b.forward(batch, options).total_loss);
  double largest = 0;
  for (double g : to_vector(a.params().vector_grad(router))) largest = std::max(largest, std::abs(g));
  EXPECT_GT(largest, 1e-6);
}

// Expert choice: the experts pick their tokens per micro-batch or per sequence; gates are the
// chosen experts' scores, so the router learns through every chosen pair.
TEST(ModelGradients, ExpertChoiceInEachGroupAndScoreFunction) {
  for (const bool per_sequence : {false, true}) {
    for (const auto score : {kernels::ScoreFunction::softmax, kernels::ScoreFunction::sigmoid}) {
      auto c = tiny_config();
      c.router_rule.routing = kernels::Routing::expert_choice;
      c.router_rule.score = score;
      c.router_rule.norm = kernels::GateNorm::none;
      c.router_rule.route_scale = 1.5;
      c.capacity_factor = 1.0;
      c.expert_choice_per_sequence = per_sequence;
      c.noise_std = 0.3;
      SCOPED_TRACE(::testing::Message() << per_sequence << " " << int(score));
      check_model(c, training_options(0.0, 0.05));
    }
  }
}

// Hash routing: no router parameters; the experts, attention and embeddings still train.
TEST(ModelGradients, HashRoutingHasNoRouter) {
  auto c = tiny_config();
  c.router_rule.routing = kernels::Routing::hash;
  MoeTransformer<double> model(c, 7);
  for (const auto& spec : model.params().specs()) EXPECT_EQ(spec.name.find("router"), std::string::npos);
  model.set_hash_table(kernels::random_hash_table(c.vocab_size, c.num_experts, c.top_k, 3));
  check_gradients(model, training_options(0.0, 0.0));
}

TEST(ModelGradients, SinkhornSelection) {
  auto c = tiny_config();
  c.router_rule.routing = kernels::Routing::sinkhorn;
  check_model(c, training_options(0.0, 0.05));
  c.router_rule.norm = kernels::GateNorm::none;
  check_model(c, training_options(0.0, 0.05));
}

TEST(ModelGradients, CapacityDropByProbabilityWithRenormalisedGates) {
  for (const bool renorm : {false, true}) {
    auto c = tiny_config();
    c.capacity_factor = 0.5;
    c.drop_policy = kernels::DropPolicy::probability;
    c.renorm_after_drop = renorm;
    c.router_rule.route_scale = 2.0;
    SCOPED_TRACE(renorm);
    check_model(c, training_options(0.1, 0.01));
  }
}

TEST(ModelGradients, TopOneRouterLearnsFromTheLanguageModelLoss) {
  // Without balancing losses, only the gates carry the loss to the router: with gate_norm "none"
  // its gradient is non-zero.
  auto c = tiny_config();
  c.top_k = 1;
  c.router_rule.norm = kernels::GateNorm::none;
  MoeTransformer<double> model(c, 7);
  model.params().zero_grads();
  model.forward(tiny_batch(c), training_options(0.0, 0.0));
  model.backward();
  const auto grad = to_vector(model.params().vector_grad(model.params().index_of("blocks.0.router")));
  double largest = 0;
  for (double g : grad) largest = std::max(largest, std::abs(g));
  EXPECT_GT(largest, 1e-6);
}

TEST(ModelGradients, DenseBaseline) {
  auto c = tiny_config();
  c.moe = false;
  check_model(c, training_options(0.0, 0.0));
}

TEST(ModelGradients, WeightSharedDepth) {
  auto c = tiny_config();
  c.weight_sharing = true;
  c.n_layers = 3;
  check_model(c, training_options(0.1, 0.01));
}

TEST(ModelGradients, EveryBalancingConvention) {
  for (const auto fractions :
       {kernels::LoadFractions::per_pick, kernels::LoadFractions::per_token, kernels::LoadFractions::first_choice}) {
    for (const auto layers :
         {kernels::BalanceLayers::sum, kernels::BalanceLayers::mean, kernels::BalanceLayers::pooled}) {
      auto c = tiny_config();
      c.lb_fractions = fractions;
      c.lb_layers = layers;
      SCOPED_TRACE(::testing::Message() << int(fractions) << " " << int(layers));
      check_model(c, training_options(0.3, 0.0));
    }
  }
}

TEST(ModelGradients, EveryBalancingScope) {
  for (const auto scope : {kernels::BalanceScope::sequence, kernels::BalanceScope::global_batch}) {
    for (const auto layers : {kernels::BalanceLayers::sum, kernels::BalanceLayers::mean}) {
      auto c = tiny_config();
      c.lb_scope = scope;
      c.lb_layers = layers;
      c.lb_fractions = kernels::LoadFractions::per_token;
      SCOPED_TRACE(::testing::Message() << int(scope) << " " << int(layers));
      check_model(c, training_options(0.3, 0.0));
    }
  }
}

// Global-batch balancing (Qwen, Megatron global_aux_loss): the second micro-batch of an update takes
// f from the running mean of both micro-batches' f, with its own P̄; a new update starts afresh.
TEST(ModelGradients, GlobalBatchBalancingUsesTheUpdatesRunningCounts) {
  auto c = tiny_config();
  const auto first = tiny_batch(c, 2, 0), second = tiny_batch(c, 2, 5);
  MoeTransformer<double> plain(c, 7);
  const auto a = plain.forward(first, training_options(0.3, 0.0));
  const auto b = plain.forward(second, training_options(0.3, 0.0));
  c.lb_scope = kernels::BalanceScope::global_batch;
  MoeTransformer<double> global(c, 7);
  auto options = training_options(0.3, 0.0);
  const auto g1 = global.forward(first, options);
  options.first_micro_batch = false;
  const auto g2 = global.forward(second, options);
  const double total = double(b.tokens) * c.top_k;
  for (int l = 0; l < c.n_layers; ++l) {
    EXPECT_NEAR(g1.layers[l].load_balancing, a.layers[l].load_balancing, 1e-12);  // one micro-batch so far
    double by_hand = 0;
    for (int e = 0; e < c.num_experts; ++e) {
      const double f = (a.layers[l].expert_tokens[e] + b.layers[l].expert_tokens[e]) / total / 2;
      by_hand += c.num_experts * f * b.layers[l].mean_prob[e];
    }
    EXPECT_NEAR(g2.layers[l].load_balancing, by_hand, 1e-12) << l;
  }
  options.first_micro_batch = true;  // the next update restarts the counts
  EXPECT_NEAR(global.forward(second, options).layers[0].load_balancing, b.layers[0].load_balancing, 1e-12);
}

// The layers' losses combined by hand from the per-layer statistics: summed, averaged, or pooled
// (E · Σ_e mean_l f_le · mean_l P̄_le, with f_le = assignments / (T·k)).
TEST(ModelGradients, BalancingLayersCombineAsTheDeckSays) {
  auto c = tiny_config();
  c.n_layers = 3;
  const auto batch = tiny_batch(c);
  const auto run = [&](kernels::BalanceLayers layers) {
    c.lb_layers = layers;
    MoeTransformer<double> model(c, 7);
    return model.forward(batch, training_options(0.3, 0.0));
  };
  const auto sum = run(kernels::BalanceLayers::sum), mean = run(kernels::BalanceLayers::mean),
             pooled = run(kernels::BalanceLayers::pooled);
  double by_hand = 0;
  for (const auto& l : sum.layers) by_hand += l.load_balancing;
  EXPECT_NEAR(sum.load_balancing, by_hand, 1e-12);
  EXPECT_NEAR(mean.load_balancing, by_hand / 3, 1e-12);
  double pooled_by_hand = 0;
  for (int e = 0; e < c.num_experts; ++e) {
    double f = 0, p = 0;
    for (const auto& l : sum.layers) {
      f += double(l.expert_tokens[e]) / double(sum.tokens * c.top_k) / 3;
      p += l.mean_prob[e] / 3;
    }
    pooled_by_hand += c.num_experts * f * p;
  }
  EXPECT_NEAR(pooled.load_balancing, pooled_by_hand, 1e-12);
  EXPECT_NE(pooled.load_balancing, mean.load_balancing);  // pooling is not averaging
}

TEST(ModelGradients, LoadBalancingWeightActs) {
  const auto c = tiny_config();
  const auto batch = tiny_batch(c);
  const auto router_grad = [&](double lb_weight) {
    MoeTransformer<double> model(c, 7);
    model.params().zero_grads();
    const auto result = model.forward(batch, training_options(lb_weight, 0.0));
    model.backward();
    const int router = model.params().index_of("blocks.0.router");
    return std::make_pair(result, to_vector(model.params().vector_grad(router)));
  };
  const auto [without, grad_without] = router_grad(0.0);
  const auto [with, grad_with] = router_grad(0.5);
  EXPECT_DOUBLE_EQ(without.total_loss, without.cross_entropy);  // weight 0: no aux in the loss
  EXPECT_GT(without.load_balancing, 0.0);                       // ... though it is still measured
  EXPECT_NEAR(with.total_loss, with.cross_entropy + 0.5 * with.load_balancing, 1e-12);
  EXPECT_NE(grad_with, grad_without);  // the deck's weight reaches the router gradient
}

}  // namespace
