#include "kernels/hash_routing.hpp"

#include <algorithm>
#include <numeric>

#include "core/counter_rng.hpp"

namespace kmoe::kernels {

std::vector<int> random_hash_table(int vocab, int experts, int k, uint64_t seed) {
  const uint64_t stream = rng::stream_id(rng::Purpose::HashRouting);
  std::vector<int> table(size_t(vocab) * k), pool(experts);
  for (int v = 0; v < vocab; ++v) {  // a partial Fisher–Yates shuffle of the experts per id
    std::iota(pool.begin(), pool.end(), 0);
    for (int s = 0; s < k; ++s) {
      const double u = rng::uniform(seed, stream, uint64_t(v) * k + s);
      const int pick = s + std::min(experts - s - 1, int(u * (experts - s)));
      std::swap(pool[s], pool[pick]);
      table[size_t(v) * k + s] = pool[s];
    }
  }
  return table;
}

std::vector<int> balanced_hash_table(const std::vector<int64_t>& token_counts, int experts, int k, uint64_t seed) {
  const uint64_t stream = rng::stream_id(rng::Purpose::HashRouting, 1);
  const int vocab = static_cast<int>(token_counts.size());
  std::vector<int> ids(vocab), by_load(experts);
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int a, int b) { return token_counts[a] > token_counts[b]; });
  std::vector<int64_t> load(experts, 0);
  std::vector<int> table(size_t(vocab) * k);
  std::vector<double> tie_break(experts);
  for (int v : ids) {
    for (int e = 0; e < experts; ++e) tie_break[e] = rng::uniform(seed, stream, uint64_t(v) * experts + e);
    std::iota(by_load.begin(), by_load.end(), 0);
    std::sort(by_load.begin(), by_load.end(),
              [&](int a, int b) { return load[a] != load[b] ? load[a] < load[b] : tie_break[a] < tie_break[b]; });
    for (int s = 0; s < k; ++s) {
      table[size_t(v) * k + s] = by_load[s];
      load[by_load[s]] += token_counts[v];
    }
  }
  return table;
}

template <class T>
void hash_route_forward(const View1<int>& token_ids, const View2<int>& table, double route_scale,
                        const RouterState<T>& state) {
  // One declarator per type: nvcc refuses `auto a = x, b = y` of different types.
  const auto logits = state.logits, probs = state.probs;
  const auto lse = state.lse;
  const auto top_idx = state.top_idx;
  const auto gates = state.gates;
  const int tokens = static_cast<int>(logits.extent(0)), E = static_cast<int>(logits.extent(1));
  const int k = static_cast<int>(top_idx.extent(1));
  const T gate = T(route_scale / k), share = T(1.0 / k);
  Kokkos::parallel_for(
      "hash_route_forward", Range(0, tokens), KOKKOS_LAMBDA(int n) {
        for (int e = 0; e < E; ++e) {
          logits(n, e) = 0;
          probs(n, e) = 0;
        }
        lse(n) = 0;
        for (int s = 0; s < k; ++s) {
          const int e = table(token_ids(n), s);
          top_idx(n, s) = e;
          gates(n, s) = gate;
          probs(n, e) = share;
        }
      });
}

template void hash_route_forward<float>(const View1<int>&, const View2<int>&, double, const RouterState<float>&);
template void hash_route_forward<double>(const View1<int>&, const View2<int>&, double, const RouterState<double>&);

}  // namespace kmoe::kernels
