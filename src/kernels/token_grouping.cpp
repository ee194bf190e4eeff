#include "kernels/token_grouping.hpp"

namespace kmoe::kernels {

void group_by_key(const View1<int>& keys, int num_keys, const View1<int>& offsets,
                  const View1<int>& order) {
  const int n = static_cast<int>(keys.extent(0));
  Kokkos::deep_copy(offsets, 0);
  Kokkos::parallel_for(
      "group_by_key_count", Range(0, n), KOKKOS_LAMBDA(int i) {
        if (keys(i) >= 0) Kokkos::atomic_increment(&offsets(keys(i) + 1));
      });
  Kokkos::parallel_scan(
      "group_by_key_offsets", Range(0, num_keys + 1),
      KOKKOS_LAMBDA(int k, int& running, bool final) {
        running += offsets(k);
        if (final) offsets(k) = running;
      });
  // Placement in index order keeps the sort stable; one thread does it (O(n), n small).
  Kokkos::parallel_for(
      "group_by_key_place", Range(0, 1), KOKKOS_LAMBDA(int) {
        for (int i = 0; i < n; ++i) {
          const int k = keys(i);
          if (k < 0) continue;
          order(offsets(k)) = i;
          offsets(k) += 1;
        }
        for (int k = num_keys; k > 0; --k) offsets(k) = offsets(k - 1);
        offsets(0) = 0;
      });
}

}  // namespace kmoe::kernels
