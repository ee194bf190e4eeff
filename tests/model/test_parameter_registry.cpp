// Parameter counts, optimizer groups and the seed-stable initialisation.
#include <gtest/gtest.h>

#include "core/counter_rng.hpp"
#include "gradient_check.hpp"
#include "model/parameter_registry.hpp"
#include "tiny_model.hpp"

using namespace kmoe;

namespace {

ModelConfig reference_config() {
  ModelConfig c = kmoe::testing::default_config();  // the research model
  c.vocab_size = 49152;
  return c;
}

TEST(ParameterRegistry, ReferenceModelCountsMatchTheFormula) {
  const auto c = reference_config();
  const int64_t V = c.vocab_size, D = c.d_model, L = c.n_layers, E = c.num_experts, F = c.expert_d_ff;
  const int64_t per_layer_dense = 4 * D * D + E * D + 2 * D;
  const int64_t expert = 2 * D * F;
  const int64_t total = V * D + L * (per_layer_dense + E * expert) + D;
  const int64_t active = V * D + L * (per_layer_dense + c.top_k * expert) + D;
  const auto counts = count_parameters(build_parameter_specs(c));
  EXPECT_EQ(counts.total, total);
  EXPECT_EQ(counts.active, active);
  EXPECT_EQ(counts.total, 79059840);  // the research's printed total
  EXPECT_EQ(counts.active, 36592512);
}

TEST(ParameterRegistry, SharedExpertsCountAsTotalAndActive) {
  // DeepSeek's matched-active comparison: one shared expert of width F beside top-1 of the routed
  // experts has the active expert parameters of top-2.
  auto c = reference_config();
  const auto plain = count_parameters(build_parameter_specs(c));
  c.shared_experts = 1;
  c.shared_d_ff = c.expert_d_ff;
  const auto with_shared = count_parameters(build_parameter_specs(c));
  const int64_t shared = 2LL * c.d_model * c.expert_d_ff * c.n_layers;
  EXPECT_EQ(with_shared.total, plain.total + shared);
  EXPECT_EQ(with_shared.active, plain.active + shared);
  c.shared_gate = kernels::SharedGate::sigmoid;  // + one d_model gate vector per layer, for AdamW
  const auto specs = build_parameter_specs(c);
  EXPECT_EQ(count_parameters(specs).total, with_shared.total + int64_t(c.d_model) * c.n_layers);
  for (const auto& s : specs) {
    if (s.name.find("shared.gate") != std::string::npos) {
      EXPECT_EQ(s.group, OptimizerGroup::AdamW) << s.name;
    } else if (s.name.find("shared.w") != std::string::npos) {
      EXPECT_EQ(s.group, OptimizerGroup::Muon) << s.name;
    }
  }
  c.shared_gate = kernels::SharedGate::none;
  c.top_k = 1;
  auto top2 = reference_config();
  EXPECT_EQ(count_parameters(build_parameter_specs(c)).active, count_parameters(build_parameter_specs(top2)).active);
}

TEST(ParameterRegistry, WeightSharingCountsOneBlock) {
  auto c = reference_config();
  const auto unshared = count_parameters(build_parameter_specs(c)).total;
  c.weight_sharing = true;
  const auto shared = count_parameters(build_parameter_specs(c)).total;
  const int64_t block = (unshared - c.vocab_size * c.d_model - c.d_model) / c.n_layers;
  EXPECT_EQ(shared, c.vocab_size * c.d_model + c.d_model + block);
}

TEST(ParameterRegistry, MuonGetsHiddenMatricesAndTheRouter) {
  auto c = kmoe::testing::tiny_config();
  for (const auto& s : build_parameter_specs(c)) {
    const bool hidden_matrix =
        s.shape.size() == 2 && s.name != "tok_emb" && s.name.find("shared.gate") == std::string::npos;
    EXPECT_EQ(s.group == OptimizerGroup::Muon, hidden_matrix) << s.name;
  }
  c.router_muon = false;
  for (const auto& s : build_parameter_specs(c)) {
    if (s.name.find("router") != std::string::npos) {
      EXPECT_EQ(s.group, OptimizerGroup::AdamW);
    }
  }
}

TEST(ParameterRegistry, InitIsTheCounterRngFormulaOnEveryBackend) {
  const auto c = kmoe::testing::tiny_config();
  ParameterSet<float> params(c);
  params.initialize(42, 0.02);
  const auto values = kmoe::testing::to_vector(params.values());
  for (size_t i = 0; i < params.specs().size(); ++i) {
    const auto& s = params.specs()[i];
    for (size_t j = 0; j < s.size(); ++j) {
      const float expected = s.init == InitRule::Ones
                                 ? 1.0f
                                 : static_cast<float>(0.02 * rng::normal(42, rng::stream_id(rng::Purpose::Init, i), j));
      ASSERT_EQ(static_cast<float>(values[s.offset + j]), expected) << s.name << "[" << j << "]";
    }
  }
}

}  // namespace
