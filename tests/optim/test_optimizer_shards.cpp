// The optimizer split over ranks by whole tensors: the shards partition the buffer and the
// tensors, balance the update's cost, and together update exactly as one optimizer does.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "gradient_check.hpp"
#include "io/run_deck.hpp"
#include "model/moe_transformer.hpp"
#include "optim/hybrid_optimizer.hpp"
#include "tiny_model.hpp"
#include "train/deck_settings.hpp"

using namespace kmoe;
using namespace kmoe::testing;

namespace {

std::vector<float> host_values(const View1<float>& v) {
  const auto h = Kokkos::create_mirror_view_and_copy(HostSpace(), v);
  return std::vector<float>(h.data(), h.data() + h.extent(0));
}

TEST(OptimizerShards, PartitionTheBufferAndTheTensorsInOrder) {
  const std::vector<MatrixSegment> matrices = {{10, 8, 4}, {60, 16, 16}, {400, 4, 4}};
  const std::vector<Segment> segments = {{0, 10}, {42, 18}, {316, 84}, {416, 4}};
  for (int ranks : {1, 2, 3, 7}) {
    const auto shards = shard_by_tensors(matrices, segments, 420, ranks, 5);
    ASSERT_EQ(shards.size(), size_t(ranks));
    EXPECT_EQ(shards.front().elements.begin, 0u);
    EXPECT_EQ(shards.back().elements.end, 420u);
    EXPECT_EQ(shards.front().first_matrix, 0);
    EXPECT_EQ(shards.back().end_matrix, 3);
    EXPECT_EQ(shards.back().end_segment, 4);
    for (int r = 1; r < ranks; ++r) {
      const auto &a = shards[size_t(r - 1)], &b = shards[size_t(r)];
      EXPECT_EQ(a.elements.end, b.elements.begin);
      EXPECT_EQ(a.end_matrix, b.first_matrix);
      EXPECT_EQ(a.end_segment, b.first_segment);
      // A shard starts at one of its tensors (or owns nothing).
      if (b.first_matrix < b.end_matrix || b.first_segment < b.end_segment) {
        const size_t first = std::min(b.first_matrix < b.end_matrix ? matrices[size_t(b.first_matrix)].offset : 420,
                                      b.first_segment < b.end_segment ? segments[size_t(b.first_segment)].offset : 420);
        EXPECT_EQ(b.elements.begin, first) << "rank " << r << " of " << ranks;
      }
    }
  }
  // Seven ranks for seven tensors of unequal cost: some ranks own nothing.
  const auto seven = shard_by_tensors(matrices, segments, 420, 7, 5);
  EXPECT_TRUE(std::any_of(seven.begin(), seven.end(), [](const OptimizerShard& s) { return s.elements.size() == 0; }));
}

TEST(OptimizerShards, BalanceTheUpdateCostOfManyEqualMatrices) {
  std::vector<MatrixSegment> matrices;
  for (int i = 0; i < 16; ++i) matrices.push_back(MatrixSegment{size_t(i) * 64, 8, 8});
  const auto shards = shard_by_tensors(matrices, {}, 16 * 64, 4, 5);
  for (const auto& s : shards) EXPECT_EQ(s.end_matrix - s.first_matrix, 4);
}

// Shards 0..S-1 each updating their own tensors of a copy of the parameters, the copies' owned
// ranges put together, give the single optimizer's values bit for bit, over several updates.
TEST(OptimizerShards, TogetherUpdateAsOneOptimizerBitForBit) {
  auto config = tiny_config();
  MoeTransformer<float> whole_model(config, 42);
  auto& params = whole_model.params();
  const auto settings = optimizer_settings_from_deck(RunDeck{});
  const auto gradient = host_values(params.values());  // any fixed non-trivial values
  const int shards = 3;
  HybridOptimizer<float> whole(params, settings);
  std::vector<std::unique_ptr<MoeTransformer<float>>> copies;
  std::vector<std::unique_ptr<HybridOptimizer<float>>> parts;
  for (int s = 0; s < shards; ++s) {
    copies.push_back(std::make_unique<MoeTransformer<float>>(config, 42));
    parts.push_back(std::make_unique<HybridOptimizer<float>>(copies.back()->params(), settings, shards, s));
  }
  for (int update = 0; update < 3; ++update) {
    auto g = Kokkos::create_mirror_view(params.grads());
    for (size_t i = 0; i < g.extent(0); ++i) g(i) = gradient[(i + size_t(update) * 7) % gradient.size()];
    Kokkos::deep_copy(params.grads(), g);
    whole.step(params, 1.0);
    for (int s = 0; s < shards; ++s) {
      Kokkos::deep_copy(copies[size_t(s)]->params().grads(), params.grads());
      parts[size_t(s)]->step(copies[size_t(s)]->params(), 1.0);
    }
  }
  const auto expected = host_values(params.values());
  const auto layout = parts[0]->shards();
  size_t compared = 0;
  for (int s = 0; s < shards; ++s) {
    const auto got = host_values(copies[size_t(s)]->params().values());
    for (size_t i = layout[size_t(s)].elements.begin; i < layout[size_t(s)].elements.end; ++i, ++compared)
      ASSERT_EQ(got[i], expected[i]) << "element " << i << " of shard " << s;
  }
  EXPECT_EQ(compared, expected.size());
  for (const auto& s : layout) EXPECT_GT(s.elements.size(), 0u);
}

}  // namespace
