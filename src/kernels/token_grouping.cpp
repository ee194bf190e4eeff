#include "kernels/token_grouping.hpp"

#include <algorithm>

namespace kmoe::kernels {

namespace {
constexpr int kItemsPerChunk = 128, kMaxChunks = 256;
constexpr long kMaxCounters = 1L << 22;  // chunks × keys
}  // namespace

int KeyGroupingWorkspace::ensure(int items, int keys) {
  const long by_items = std::clamp(items / kItemsPerChunk, 1, kMaxChunks);
  const int chunks = int(std::max(1L, std::min(by_items, kMaxCounters / std::max(keys, 1))));
  if (chunk_counts.extent(0) < size_t(chunks) || chunk_counts.extent(1) != size_t(keys)) {
    chunk_counts = View2<int>("group_by_key_chunk_counts", std::max<size_t>(chunks, chunk_counts.extent(0)), keys);
  }
  return chunks;
}

void group_by_key(const View1<int>& keys, int num_keys, const View1<int>& offsets, const View1<int>& order,
                  KeyGroupingWorkspace& workspace) {
  const int n = static_cast<int>(keys.extent(0));
  const int chunks = workspace.ensure(n, num_keys);
  const int chunk = (n + chunks - 1) / std::max(chunks, 1);
  const auto counts = workspace.chunk_counts;
  Kokkos::parallel_for(
      "group_by_key_count", Range(0, chunks), KOKKOS_LAMBDA(int c) {
        for (int k = 0; k < num_keys; ++k) counts(c, k) = 0;
        const int end = n < (c + 1) * chunk ? n : (c + 1) * chunk;
        for (int i = c * chunk; i < end; ++i) {
          if (keys(i) >= 0) counts(c, keys(i)) += 1;
        }
      });
  // Exclusive scan in key-major order: counts(c, k) becomes chunk c's first slot for key k.
  Kokkos::parallel_scan(
      "group_by_key_offsets", Range(0, num_keys * chunks), KOKKOS_LAMBDA(int t, int& running, bool final) {
        const int k = t / chunks, c = t % chunks;
        const int count = counts(c, k);
        if (final) {
          counts(c, k) = running;
          if (c == 0) offsets(k) = running;
          if (t == num_keys * chunks - 1) offsets(num_keys) = running + count;
        }
        running += count;
      });
  Kokkos::parallel_for(
      "group_by_key_place", Range(0, chunks), KOKKOS_LAMBDA(int c) {
        const int end = n < (c + 1) * chunk ? n : (c + 1) * chunk;
        for (int i = c * chunk; i < end; ++i) {
          const int k = keys(i);
          if (k < 0) continue;
          order(counts(c, k)) = i;
          counts(c, k) += 1;
        }
      });
}

void group_by_key(const View1<int>& keys, int num_keys, const View1<int>& offsets, const View1<int>& order) {
  KeyGroupingWorkspace workspace;
  group_by_key(keys, num_keys, offsets, order, workspace);
}

}  // namespace kmoe::kernels
