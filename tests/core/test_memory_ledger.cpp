#include <gtest/gtest.h>

#include "core/memory_ledger.hpp"
#include "core/views.hpp"

using namespace kmoe;

namespace {

TEST(MemoryLedger, FollowsTheModelSpacesAllocationsAndTheirPeak) {
  start_memory_ledger();
  reset_memory_peak();
  const auto before = memory_ledger();
  {
    View1<float> a("a", 1 << 20);
    View1<float> b("b", 1 << 18);
    const auto held = memory_ledger();
    EXPECT_GE(held.current_bytes - before.current_bytes, (uint64_t(1 << 20) + (1 << 18)) * sizeof(float));
    EXPECT_EQ(held.allocations - before.allocations, 2u);
    EXPECT_EQ(held.peak_bytes, held.current_bytes);
  }
  const auto after = memory_ledger();
  EXPECT_EQ(after.current_bytes, before.current_bytes);
  EXPECT_GE(after.peak_bytes - before.current_bytes, (uint64_t(1 << 20) + (1 << 18)) * sizeof(float));
  Kokkos::View<float*, HostSpace> elsewhere("host", 1 << 20);  // another space on a GPU build
  if (!std::is_same_v<MemSpace, HostSpace>) {
    EXPECT_EQ(memory_ledger().current_bytes, after.current_bytes);
  }
}

}  // namespace
