// Per-layer router losses and statistics:
//   Switch load balancing  lb = E · Σ_e f_e · P̄_e   (f_e = share of all (token, slot)
//                                                      assignments to e; P̄_e = mean_n P_ne)
//   z-loss                 z  = mean_n logsumexp(logits_n)²
//   router entropy         H  = mean_n −Σ_e P_ne log P_ne
// Values are unweighted; the model multiplies by the deck's coefficients.
#pragma once

#include "kernels/router.hpp"

namespace kmoe::kernels {

struct RouterLossValues {
  double load_balancing = 0;
  double z_loss = 0;
  double entropy = 0;
};

// One layer's routing numbers in one device buffer, so the host reads them with one copy:
// the expert offsets [0, E], the mean router probabilities, then the three losses.
struct RouterSummary {
  int experts;
  KOKKOS_INLINE_FUNCTION int size() const { return 2 * experts + 4; }
  KOKKOS_INLINE_FUNCTION int offset(int e) const { return e; }
  KOKKOS_INLINE_FUNCTION int mean_prob(int e) const { return experts + 1 + e; }
  KOKKOS_INLINE_FUNCTION int load_balancing() const { return 2 * experts + 1; }
  KOKKOS_INLINE_FUNCTION int z_loss() const { return 2 * experts + 2; }
  KOKKOS_INLINE_FUNCTION int entropy() const { return 2 * experts + 3; }
};

// `offsets` [E+1] groups the (token, slot) assignments by expert (group_by_key); fills
// fractions [E], mean_probs [E] and `summary` (RouterSummary layout) on the device, without
// waiting for it.
template <class T>
void router_losses(const RouterState<T>& state, const View1<int>& offsets, const View1<T>& fractions,
                   const View1<T>& mean_probs, const View1<double>& summary);
// The same, returning the losses to the host (tests, benchmarks).
template <class T>
RouterLossValues router_losses(const RouterState<T>& state, const View1<int>& offsets, const View1<T>& fractions,
                               const View1<T>& mean_probs);

}  // namespace kmoe::kernels
