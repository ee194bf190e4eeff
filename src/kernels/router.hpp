// Top-k router: logits = x·W_rᵀ (+ noise in training), P = softmax(logits), top-k on the
// (noisy, optionally biased) logits with the lower expert index winning ties, gate weights =
// softmax over the k selected logits (GateNorm::selected) or the selected experts' P themselves
// (GateNorm::none). The backward combines the gate, load-balancing and z-loss gradients into
// ∂L/∂logits.
#pragma once

#include <cstdint>

#include "core/views.hpp"

namespace kmoe::kernels {

template <class T>
struct RouterState {
  View2<T> logits;     // [tokens, experts], noise included
  View2<T> probs;      // [tokens, experts]
  View1<T> lse;        // [tokens] log-sum-exp of the logits (z-loss)
  View2<int> top_idx;  // [tokens, k]
  View2<T> gates;      // [tokens, k]
  RouterState() = default;
  RouterState(int tokens, int experts, int k);
};

// moe.gate_norm. With top_k = 1, `selected` makes every gate 1: the language-model loss then
// sends the router no gradient (the deck refuses that combination).
enum class GateNorm { selected, none };

struct RouterNoise {
  double std = 0.0;
  uint64_t seed = 0;
  uint64_t stream = 0;
};

// `logits` must already hold x·W_rᵀ. Adds noise, then fills probs, lse, top_idx, gates.
// `selection_bias` [experts] is added to the scores used for selection only (aux-loss-free
// balancing); pass zeros for the plain router.
template <class T>
void router_forward(const RouterState<T>& state, const RouterNoise& noise, const View1<T>& selection_bias,
                    GateNorm gate_norm = GateNorm::selected);

// dlogits = ∂L/∂logits from the gate gradients, the load-balancing term
// lb_coef · E · Σ f_e P̄_e (f = assignment fractions, no gradient) and the z-loss term
// z_coef · mean(lse²).
template <class T>
void router_backward(const RouterState<T>& state, const View2<T>& dgates, const View1<T>& fractions, T lb_coef,
                     T z_coef, const View2<T>& dlogits, GateNorm gate_norm = GateNorm::selected);

}  // namespace kmoe::kernels
