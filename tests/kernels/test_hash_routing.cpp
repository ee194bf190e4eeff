// Hash routing's tables and its forward, by hand.
#include <gtest/gtest.h>

#include <algorithm>
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

TEST(HashRouting, BalancedTableIsTheGreedyRule) {
  // Counts 10, 5, 5, 1, 0 on two experts, k = 1: id 0 takes one expert, ids 2 and 3 (5 each) the
  // other, id 1 the lighter of 10 and 10 (either), id 4 the then lighter one.
  const auto one = balanced_hash_table({10, 1, 5, 5, 0}, 2, 1, 7);
  EXPECT_NE(one[0], one[2]);
  EXPECT_EQ(one[2], one[3]);
  EXPECT_NE(one[4], one[1]);
  // Two experts, k = 2: every id takes both.
  const auto both = balanced_hash_table({4, 2, 2}, 2, 2, 7);
  for (int v = 0; v < 3; ++v) EXPECT_NE(both[2 * v], both[2 * v + 1]);
}

TEST(HashRouting, BalancedTableEvensTheLoadsAndMixesTheExpertsWithTheSeed) {
  // 300 ids of counts 1..30 (ten of each) on 4 experts, k = 2.
  std::vector<int64_t> counts(300);
  for (int v = 0; v < 300; ++v) counts[v] = 1 + v % 30;
  const auto table = balanced_hash_table(counts, 4, 2, 42);
  std::vector<int64_t> load(4, 0);
  std::set<std::pair<int, int>> pairs;
  for (int v = 0; v < 300; ++v) {
    const int a = table[2 * v], b = table[2 * v + 1];
    ASSERT_NE(a, b);
    load[a] += counts[v];
    load[b] += counts[v];
    pairs.insert({std::min(a, b), std::max(a, b)});
  }
  const auto [lo, hi] = std::minmax_element(load.begin(), load.end());
  EXPECT_LE(*hi - *lo, 30);     // within the largest count
  EXPECT_EQ(pairs.size(), 6u);  // not locked into {0, 1} and {2, 3}
  EXPECT_EQ(balanced_hash_table(counts, 4, 2, 42), table);
  EXPECT_NE(balanced_hash_table(counts, 4, 2, 43), table);
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
