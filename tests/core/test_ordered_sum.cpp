// OrderedSum adds its terms in a fixed order (blocks of kBlock in order, then the block sums in
// order), so its bits are those of the same loop on the host, whatever the backend and thread
// count. The terms are chosen so that a different order would change the last bits.
#include <gtest/gtest.h>

#include <cmath>

#include "core/ordered_sum.hpp"

using namespace kmoe;

namespace {

struct Harmonic {
  KOKKOS_INLINE_FUNCTION double operator()(size_t i) const { return 1.0 / double(i + 1) - 0.3 * double(i % 7); }
};

double host_sum_in_blocks(size_t n) {
  double total = 0;
  for (size_t first = 0; first < n; first += OrderedSum::kBlock) {
    double block = 0;
    for (size_t i = first; i < n && i < first + OrderedSum::kBlock; ++i) block += Harmonic{}(i);
    total += block;
  }
  return total;
}

// Every block's sum, the blocks split in two calls (as two ranks would), added in block order.
double sum_of_block_sums(OrderedSum& sum, size_t n) {
  const size_t blocks = OrderedSum::blocks(n), half = blocks / 2;
  auto sums = sum.block_sums("test_sum", 0, half, n, Harmonic{});
  const auto rest = sum.block_sums("test_sum", half, blocks, n, Harmonic{});
  sums.insert(sums.end(), rest.begin(), rest.end());
  double total = 0;
  for (const double s : sums) total += s;
  return total;
}

}  // namespace

TEST(OrderedSum, BitsOfTheHostLoopInTheSameOrder) {
  OrderedSum sum;
  for (size_t n : {size_t(1), size_t(4095), size_t(3 * OrderedSum::kBlock + 123), size_t(40 * OrderedSum::kBlock)}) {
    EXPECT_EQ(sum_of_block_sums(sum, n), host_sum_in_blocks(n)) << n;
  }
  double plain = 0;  // the order matters at this size, so the test can tell orders apart
  for (size_t i = 0; i < 40 * OrderedSum::kBlock; ++i) plain += Harmonic{}(i);
  EXPECT_NE(plain, host_sum_in_blocks(40 * OrderedSum::kBlock));
}
