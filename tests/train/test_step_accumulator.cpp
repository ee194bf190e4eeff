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

// A micro-batch's result crosses ranks as packed values: unpacking gives it back exactly.
TEST(GradientAccumulation, APackedResultUnpacksExactly) {
  ForwardResult r;
  r.cross_entropy = 3.25, r.load_balancing = 0.125, r.z_loss = 1e-3, r.total_loss = 3.4, r.correct = 17, r.tokens = 64;
  for (int l = 0; l < 2; ++l) {
    LayerRouterStats s;
    s.expert_tokens = {10 + l, 20, 30, 68 - l};
    s.mean_prob = {0.1, 0.2, 0.3, 0.4 + l};
    s.entropy = 1.1, s.load_balancing = 0.9 + l, s.z_loss = 0.01, s.dropped = 3 + l, s.unrouted = l;
    r.layers.push_back(s);
  }
  const auto packed = pack_result(r);
  ASSERT_EQ(packed.size(), packed_result_size(2, 4));
  const auto back = unpack_result(packed.data(), 2, 4);
  EXPECT_EQ(pack_result(back), packed);
  EXPECT_EQ(back.layers[1].expert_tokens, r.layers[1].expert_tokens);
  EXPECT_EQ(back.layers[1].unrouted, 1);
  EXPECT_EQ(back.correct, 17);
}

}  // namespace
