// Two half-size micro-batches with grad_scale 1/2 give the gradients and (averaged)
// statistics of the full batch.
#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "tiny_model.hpp"
#include "train/step_accumulator.hpp"

using namespace kmoe;
using namespace kmoe::testing;

namespace {

TokenBatch slice(const TokenBatch& full, int first_sequence, int sequences, int seq_len) {
  TokenBatch b;
  b.batch = sequences;
  const auto range = Kokkos::make_pair(first_sequence * seq_len, (first_sequence + sequences) * seq_len);
  b.inputs = View1<int>("inputs", sequences * seq_len);
  b.targets = View1<int>("targets", sequences * seq_len);
  Kokkos::deep_copy(b.inputs, Kokkos::subview(full.inputs, range));
  Kokkos::deep_copy(b.targets, Kokkos::subview(full.targets, range));
  return b;
}

TEST(GradientAccumulation, MicroBatchesMatchTheFullBatch) {
  const auto c = tiny_config();
  const auto full = tiny_batch(c, 4);
  StepOptions options = default_training_options();
  options.lb_weight = 0.0;  // the Switch loss is not additive over micro-batches (f·P̄ product)
  options.z_weight = 0.05;  // z-loss is a token mean: additive

  MoeTransformer<double> one(c, 3);
  one.params().zero_grads();
  const auto reference = one.forward(full, options);
  one.backward();

  MoeTransformer<double> two(c, 3);
  two.params().zero_grads();
  StepAccumulator acc;
  options.grad_scale = 0.5;
  for (int m = 0; m < 2; ++m) {
    acc.add(two.forward(slice(full, 2 * m, 2, c.seq_len), options));
    two.backward();
  }
  const auto combined = acc.combined();
  const auto g1 = to_vector(one.params().grads()), g2 = to_vector(two.params().grads());
  for (size_t i = 0; i < g1.size(); ++i) ASSERT_NEAR(g1[i], g2[i], 1e-12) << i;
  EXPECT_NEAR(combined.cross_entropy, reference.cross_entropy, 1e-12);
  EXPECT_NEAR(combined.z_loss, reference.z_loss, 1e-12);
  EXPECT_EQ(combined.correct, reference.correct);
  EXPECT_EQ(combined.tokens, reference.tokens);
  for (size_t l = 0; l < combined.layers.size(); ++l) {
    EXPECT_EQ(combined.layers[l].expert_tokens, reference.layers[l].expert_tokens);
    for (size_t e = 0; e < combined.layers[l].mean_prob.size(); ++e) {
      EXPECT_NEAR(combined.layers[l].mean_prob[e], reference.layers[l].mean_prob[e], 1e-12);
    }
  }
}

}  // namespace
