// A training step's work, counted through Kokkos Tools: its kernel launches and deep copies do
// not grow with the batch, the heads or the experts (no host loops over them), and a step after
// the first allocates nothing.
#include <gtest/gtest.h>

#include <sstream>

#include "core/kernel_census.hpp"
#include "kernels/batched_gemm.hpp"
#include "kernels/hash_routing.hpp"
#include "optim/hybrid_optimizer.hpp"
#include "tiny_model.hpp"

namespace kmoe {
namespace {

// The census of the second micro-batch (the first sizes the buffers).
KernelCensus census_of_a_step(const ModelConfig& c, int batch) {
  MoeTransformer<float> model(c, 42);
  if (c.routing() == kernels::Routing::hash) {
    model.set_hash_table(kernels::random_hash_table(c.vocab_size, c.num_experts, c.top_k, 42));
  }
  const auto tokens = testing::tiny_batch(c, batch);
  StepOptions options = kmoe::testing::default_training_options();
  for (int step = 0; step < 2; ++step) {
    if (step == 1) start_kernel_census();
    model.params().zero_grads();
    model.forward(tokens, options);
    model.backward();
    ++options.rng_step;
  }
  Kokkos::fence();
  return stop_kernel_census();
}

std::string differences(const KernelCensus& a, const KernelCensus& b) {
  std::ostringstream out;
  for (const auto& [name, n] : a.launches_by_name) {
    const auto it = b.launches_by_name.find(name);
    const int m = it == b.launches_by_name.end() ? 0 : it->second;
    if (m != n) out << name << ": " << n << " vs " << m << "\n";
  }
  for (const auto& [name, m] : b.launches_by_name) {
    if (!a.launches_by_name.count(name)) out << name << ": 0 vs " << m << "\n";
  }
  return out.str();
}

TEST(StepCensus, LaunchesDoNotGrowWithBatchHeadsOrExperts) {
  auto small = testing::tiny_config();
  small.dropout = 0.1;
  small.noise_std = 0.1;
  auto large = small;
  large.n_heads = 4;
  large.num_experts = 8;
  const auto a = census_of_a_step(small, 2);
  const auto b = census_of_a_step(large, 4);
  EXPECT_GT(a.launches, 0u);
  EXPECT_EQ(a.launches, b.launches) << differences(a, b);
  EXPECT_EQ(a.deep_copies, b.deep_copies);
  EXPECT_EQ(a.reductions, b.reductions);
  if (kernels::kGroupedGemmIsOneCall) {
    EXPECT_EQ(a.blas_calls, b.blas_calls);
  } else {
    EXPECT_GT(b.blas_calls, a.blas_calls) << "the census should see the CUDA expert path's one cuBLAS call per expert";
  }
}

// The routing families keep the census flat: more groups or more shared experts add no launch,
// copy, reduction or BLAS call (a group limit and the shared experts' FFN are one launch each).
TEST(StepCensus, RoutingFamiliesDoNotGrowWithGroupsOrSharedExperts) {
  auto c = testing::tiny_config();
  c.num_experts = 8;
  c.dropout = 0.1;
  c.router_rule = {
      kernels::Routing::token_choice, kernels::ScoreFunction::sigmoid, kernels::GateNorm::selected, 2.5, 2, 1,
      kernels::GroupScore::topk_sum};
  c.shared_experts = 1;
  c.shared_gate = kernels::SharedGate::sigmoid;
  c.lb_layers = kernels::BalanceLayers::pooled;
  auto more = c;
  more.router_rule.groups = 4;
  more.router_rule.group_topk = 2;
  more.shared_experts = 3;
  const auto a = census_of_a_step(c, 2), b = census_of_a_step(more, 2);
  EXPECT_EQ(a.launches, b.launches) << differences(a, b);
  EXPECT_EQ(a.deep_copies, b.deep_copies);
  EXPECT_EQ(a.reductions, b.reductions);
  EXPECT_EQ(a.blas_calls, b.blas_calls);
  EXPECT_EQ(a.allocations, 0u);
}

// Expert choice, hash routing, Sinkhorn selection and the drop policies: one launch each,
// whatever the experts and tokens, and nothing allocated after the first step.
TEST(StepCensus, AssignmentFamiliesDoNotGrowWithExpertsOrTokens) {
  auto expert_choice = testing::tiny_config();
  expert_choice.router_rule.routing = kernels::Routing::expert_choice;
  expert_choice.router_rule.norm = kernels::GateNorm::none;
  expert_choice.capacity_factor = 1.0;
  auto hash = testing::tiny_config();
  hash.router_rule.routing = kernels::Routing::hash;
  auto sinkhorn = testing::tiny_config();
  sinkhorn.router_rule.routing = kernels::Routing::sinkhorn;
  auto drops = testing::tiny_config();
  drops.capacity_factor = 0.75;
  drops.drop_policy = kernels::DropPolicy::probability;
  drops.renorm_after_drop = true;
  for (const auto& c : {expert_choice, hash, sinkhorn, drops}) {
    auto more = c;
    more.num_experts = 8;
    const auto a = census_of_a_step(c, 2), b = census_of_a_step(more, 4);
    SCOPED_TRACE(int(c.routing()));
    EXPECT_EQ(a.launches, b.launches) << differences(a, b);
    EXPECT_EQ(a.deep_copies, b.deep_copies);
    EXPECT_EQ(a.reductions, b.reductions);
    EXPECT_EQ(a.allocations, 0u);
  }
}

TEST(StepCensus, AStepAllocatesNothing) {
  auto c = testing::tiny_config();
  c.dropout = 0.1;
  for (auto matmul : {kernels::Matmul::fp32, kernels::Matmul::bf16}) {  // bf16: the operand scratch is kept
    c.matmul = matmul;
    EXPECT_EQ(census_of_a_step(c, 2).allocations, 0u) << kernels::matmul_name(matmul);
  }
}

// The last, partial evaluation batch works on the first rows of the training batch's buffers:
// nothing is allocated going down or back up, and its results equal a model that only ever saw
// the smaller batch.
TEST(StepCensus, ASmallerBatchUsesTheLargerBatchsBuffers) {
  auto c = testing::tiny_config();
  c.dropout = 0.1;
  MoeTransformer<float> model(c, 42), small_only(c, 42);
  const auto full = testing::tiny_batch(c, 4), partial = testing::tiny_batch(c, 2, 3);
  const StepOptions training = kmoe::testing::default_training_options(), evaluation = evaluation_step_options();
  model.forward(full, training);
  model.backward();
  start_kernel_census();
  const auto small = model.forward(partial, evaluation);
  model.params().zero_grads();
  model.forward(full, training);
  model.backward();
  Kokkos::fence();
  EXPECT_EQ(stop_kernel_census().allocations, 0u);
  const auto expected = small_only.forward(partial, evaluation);
  EXPECT_EQ(small.cross_entropy, expected.cross_entropy);
  EXPECT_EQ(small.correct, expected.correct);
  EXPECT_EQ(small.load_balancing, expected.load_balancing);
}

// The census of one optimizer update (the second: the first sizes Newton–Schulz's workspace).
KernelCensus census_of_an_update(const ModelConfig& c) {
  MoeTransformer<float> model(c, 42);
  HybridOptimizer<float> optimizer(model.params(), optimizer_settings_from_deck(RunDeck{}));
  Kokkos::deep_copy(model.params().grads(), 0.01f);
  optimizer.step(model.params(), 1.0);
  Kokkos::fence();
  start_kernel_census();
  optimizer.step(model.params(), 1.0);
  Kokkos::fence();
  return stop_kernel_census();
}

// Muon's matrices are updated by shape: more layers or experts of the same shapes add no
// launch, no reduction into a host value (each one a device→host sync), no copy and no BLAS call.
TEST(StepCensus, AnOptimizerUpdatesLaunchesDoNotGrowWithLayersOrExperts) {
  auto small = testing::tiny_config();
  small.num_experts = 3;  // the router (E × d) must not take the shape of another matrix
  auto large = small;
  large.n_layers = 4;
  large.num_experts = 5;
  const auto a = census_of_an_update(small), b = census_of_an_update(large);
  EXPECT_GT(a.launches, 0u);
  EXPECT_EQ(a.launches, b.launches) << differences(a, b);
  EXPECT_EQ(a.reductions, b.reductions);
  EXPECT_EQ(a.deep_copies, b.deep_copies);
  EXPECT_EQ(a.blas_calls, b.blas_calls);
  EXPECT_EQ(a.allocations, 0u);
}

}  // namespace
}  // namespace kmoe
