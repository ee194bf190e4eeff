// Hash routing's tables and its forward, by hand.
#include <gtest/gtest.h>

#include <set>

#include "gradient_check.hpp"
#include "kernels/hash_routing.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

TEST(HashRouting, RandomTableGivesKDistinctExpertsPerIdAndFollowsTheSeed) {
  const int vocab = 200, experts = 5, k = 3;
  const auto table = random_hash_table(vocab, experts, k, 42);
  std::vector<int> load(experts, 0);
  for (int v = 0; v < vocab; ++v) {
    std::set<int> row(table.begin() + v * k, table.begin() + (v + 1) * k);
    EXPECT_EQ(int(row.size()), k);
    for (int e : row) {
      ASSERT_GE(e, 0);
      ASSERT_LT(e, experts);
      ++load[e];
    }
  }
  for (int e = 0; e < experts; ++e) EXPECT_GT(load[e], vocab * k / experts / 2);  // every expert used
  EXPECT_EQ(random_hash_table(vocab, experts, k, 42), table);
  EXPECT_NE(random_hash_table(vocab, experts, k, 43), table);
}

TEST(HashRouting, BalancedTableIsTheGreedyRuleByHand) {
  // Ids by count: 0 (10), 2 (5), 3 (5), 1 (1), 4 (0); each to the least-loaded expert, ties lower.
  EXPECT_EQ(balanced_hash_table({10, 1, 5, 5, 0}, 2, 1), (std::vector<int>{0, 0, 1, 1, 1}));
  // k = 2: id 0 → {0, 1} (loads 4 4 0); id 1 → {2, 0} (6 4 2); id 2 → {2, 1} (6 6 4).
  EXPECT_EQ(balanced_hash_table({4, 2, 2}, 3, 2), (std::vector<int>{0, 1, 2, 0, 2, 1}));
}

TEST(HashRouting, ForwardTakesTheTableRowWithEqualGates) {
  const int tokens = 3, experts = 4, k = 2;
  View2<int> table("table", 5, k);
  const std::vector<int> rows = {0, 1, 2, 3, 3, 0, 1, 2, 2, 1};
  auto ht = Kokkos::create_mirror_view(table);
  for (int i = 0; i < 10; ++i) ht.data()[i] = rows[i];
  Kokkos::deep_copy(table, ht);
  View1<int> ids("ids", tokens);
  auto hi = Kokkos::create_mirror_view(ids);
  hi(0) = 4, hi(1) = 0, hi(2) = 2;
  Kokkos::deep_copy(ids, hi);
  RouterState<double> state(tokens, experts, k);
  hash_route_forward(ids, table, 3.0, state);
  const auto idx = to_vector(state.top_idx);
  EXPECT_EQ(std::vector<double>(idx.begin(), idx.end()), (std::vector<double>{2, 1, 0, 1, 3, 0}));
  for (double g : to_vector(state.gates)) EXPECT_EQ(g, 1.5);
  EXPECT_EQ(to_vector(state.probs), (std::vector<double>{0, 0.5, 0.5, 0, 0.5, 0.5, 0, 0, 0.5, 0, 0, 0.5}));
}

}  // namespace
