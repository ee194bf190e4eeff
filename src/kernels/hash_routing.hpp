// Hash routing (Roller et al. 2021, ParlAI's HashLayerFFN): a fixed table sends each token id to
// k distinct experts with gates route_scale / k; no router parameters, no gradient into routing.
// The table is random (k distinct experts per id from the counter RNG) or balanced (ids in
// decreasing training-count order, each to the k experts with the least count so far: the
// greedy longest-processing-time rule; ids of equal count by id, experts of equal load in a random
// order per id — with a fixed order, k > 1 locks the experts into fixed k-tuples, e.g. {0, 1} and
// {2, 3}, whose loads then stay equal forever).
#pragma once

#include <cstdint>
#include <vector>

#include "core/views.hpp"
#include "kernels/router.hpp"

namespace kmoe::kernels {

// Tables are [vocab · k] host vectors, row v the experts of token id v.
std::vector<int> random_hash_table(int vocab, int experts, int k, uint64_t seed);
std::vector<int> balanced_hash_table(const std::vector<int64_t>& token_counts, int experts, int k, uint64_t seed);

// Fills the router state from the token ids: top_idx = the table's row, gates = route_scale / k,
// probs (and scores) = 1/k on the chosen experts and 0 elsewhere, logits and lse 0.
template <class T>
void hash_route_forward(const View1<int>& token_ids, const View2<int>& table, double route_scale,
                        const RouterState<T>& state);

}  // namespace kmoe::kernels
