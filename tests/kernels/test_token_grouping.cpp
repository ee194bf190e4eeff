// The stable counting sort that groups items by key.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "gradient_check.hpp"
#include "kernels/token_grouping.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

TEST(TokenGrouping, StableCountingSort) {
  const int n = 8;
  View1<int> keys("keys", n), offsets("offsets", 5), order("order", n);
  auto hk = Kokkos::create_mirror_view(keys);
  const int k[n] = {2, 0, 2, 3, 0, -1, 2, 0};
  for (int i = 0; i < n; ++i) hk(i) = k[i];
  Kokkos::deep_copy(keys, hk);
  group_by_key(keys, 4, offsets, order);
  const auto o = to_vector(offsets);
  EXPECT_EQ(o, (std::vector<double>{0, 3, 3, 6, 7}));
  const auto ord = to_vector(order);
  EXPECT_EQ(std::vector<double>(ord.begin(), ord.begin() + 7), (std::vector<double>{1, 4, 7, 0, 2, 6, 3}));
}

// Many chunks: every key's items in index order, on one reused workspace for two sizes.
TEST(TokenGrouping, ManyChunksMatchAPlainStableSort) {
  KeyGroupingWorkspace workspace;
  for (const int n : {5000, 777}) {
    const int num_keys = 37;
    View1<int> keys("keys", n), offsets("offsets", num_keys + 1), order("order", n);
    auto hk = Kokkos::create_mirror_view(keys);
    std::vector<std::vector<int>> expected(num_keys);
    for (int i = 0; i < n; ++i) {
      hk(i) = (i * 7919 + n) % 41 - 4;  // keys -4 .. 36, the negative ones skipped
      if (hk(i) >= 0) expected[hk(i)].push_back(i);
    }
    Kokkos::deep_copy(keys, hk);
    group_by_key(keys, num_keys, offsets, order, workspace);
    const auto o = Kokkos::create_mirror_view_and_copy(HostSpace(), offsets);
    const auto ord = Kokkos::create_mirror_view_and_copy(HostSpace(), order);
    int start = 0;
    for (int k = 0; k < num_keys; ++k) {
      ASSERT_EQ(o(k), start) << "key " << k;
      for (size_t j = 0; j < expected[k].size(); ++j) ASSERT_EQ(ord(start + j), expected[k][j]) << "key " << k;
      start += int(expected[k].size());
    }
    EXPECT_EQ(o(num_keys), start);
  }
}

}  // namespace
