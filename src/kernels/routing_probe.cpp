#include "kernels/routing_probe.hpp"

namespace kmoe::kernels {

void routed_pairs_of(const View2<int>& top_idx, const ExpertAssignment& assignment, const View2<uint8_t>& routed) {
  const auto slot_of = assignment.slot_of;
  const int k = assignment.k, tokens = static_cast<int>(routed.extent(0)), E = static_cast<int>(routed.extent(1));
  Kokkos::parallel_for(
      "routed_pairs_of", Range(0, tokens), KOKKOS_LAMBDA(int n) {
        for (int e = 0; e < E; ++e) routed(n, e) = 0;
        for (int s = 0; s < k; ++s) {
          if (slot_of(n * k + s) >= 0) routed(n, top_idx(n, s)) = 1;
        }
      });
}

PairOverlap pair_overlap(const View2<uint8_t>& now, const View2<uint8_t>& previous) {
  const int tokens = static_cast<int>(now.extent(0)), E = static_cast<int>(now.extent(1));
  PairOverlap out;
  Kokkos::parallel_reduce(
      "pairs_routed_now", Range(0, tokens),
      KOKKOS_LAMBDA(int n, int64_t& sum) {
        for (int e = 0; e < E; ++e) sum += now(n, e);
      },
      out.now);
  Kokkos::parallel_reduce(
      "pairs_routed_in_both", Range(0, tokens),
      KOKKOS_LAMBDA(int n, int64_t& sum) {
        for (int e = 0; e < E; ++e) sum += now(n, e) & previous(n, e);
      },
      out.both);
  return out;
}

void coactivation_counts(const View2<uint8_t>& routed, const View2<int64_t>& counts) {
  const int tokens = static_cast<int>(routed.extent(0)), E = static_cast<int>(routed.extent(1));
  Kokkos::parallel_for(
      "coactivation_counts", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {E, E}),
      KOKKOS_LAMBDA(int i, int j) {
        int64_t sum = 0;
        for (int n = 0; n < tokens; ++n) sum += routed(n, i) & routed(n, j);
        counts(i, j) = sum;
      });
}

}  // namespace kmoe::kernels
