// Routing probes on a fixed batch: which (token, expert) pairs a layer routed, how many of them it
// also routed before, and how often two experts serve the same token (co-activation).
// Integer counts only, so the results do not depend on the backend's summation order.
#pragma once

#include <cstdint>

#include "core/views.hpp"
#include "kernels/expert_dispatch.hpp"

namespace kmoe::kernels {

// routed[n, e] = 1 when a kept assignment of token n goes to expert e, else 0 ([tokens, experts]).
void routed_pairs_of(const View2<int>& top_idx, const ExpertAssignment& assignment, const View2<uint8_t>& routed);

// The pairs routed in `now`, and those routed in both.
struct PairOverlap {
  int64_t now = 0, both = 0;
};
PairOverlap pair_overlap(const View2<uint8_t>& now, const View2<uint8_t>& previous);

// counts[i, j] = tokens routed to both i and j (the diagonal: to i), [experts, experts].
void coactivation_counts(const View2<uint8_t>& routed, const View2<int64_t>& counts);

}  // namespace kmoe::kernels
