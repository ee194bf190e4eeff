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

// `offsets` [E+1] groups the (token, slot) assignments by expert (group_by_key); fills
// fractions [E] and mean_probs [E].
template <class T>
RouterLossValues router_losses(const RouterState<T>& state, const View1<int>& offsets,
                               const View1<T>& fractions, const View1<T>& mean_probs);

}  // namespace kmoe::kernels
