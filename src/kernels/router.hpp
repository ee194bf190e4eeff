// Top-k router (docs/routing.md): logits l = x·W_rᵀ (+ noise in training), scores s = f(l)
// with f = softmax over the experts or the sigmoid of each logit, top-k of the selection scores
// (the logits for softmax, s for sigmoid, each + an optional bias; the lower expert index wins
// ties; with a group limit, among the experts of the best groups only), gates = route_scale · (the selected s
// renormalised over the selection — GateNorm::selected — or the selected s themselves — GateNorm::none). P, the
// probabilities of the balancing loss and the entropy, is the softmax, or the sigmoid scores normalised over all
// experts. The backward combines the gate, load-balancing and z-loss gradients into ∂L/∂logits.
#pragma once

#include <cstdint>

#include "core/views.hpp"

namespace kmoe::kernels {

template <class T>
struct RouterState {
  View2<T> logits;     // [tokens, experts], noise included
  View2<T> probs;      // [tokens, experts] P
  View2<T> scores;     // [tokens, experts] s: the sigmoid scores, or the same view as probs for softmax
  View1<T> lse;        // [tokens] log-sum-exp of the logits (z-loss)
  View2<int> top_idx;  // [tokens, k]
  View2<T> gates;      // [tokens, k]
  RouterState() = default;
  RouterState(int tokens, int experts, int k, bool sigmoid_scores = false);
};

// moe.gate_norm. With top_k = 1, `selected` makes every gate 1: the language-model loss then
// sends the router no gradient (the deck refuses that combination).
enum class GateNorm { selected, none };

// moe.score: the score function.
enum class ScoreFunction { softmax, sigmoid };

// moe.routing: token_choice — each token takes its top-k by the router; random — the logits are
// fresh N(0, 1) draws of the counter RNG (the noise argument's seed and stream) instead of x·W_r,
// and their gradient goes to x·W_r unchanged (straight through: Megatron's force-balance baseline);
// expert_choice — each expert takes its top tokens (kernels/expert_choice; here: slot e = expert
// e, gates = route_scale · s); hash — a token-id table (kernels/hash_routing, not router_forward);
// sinkhorn — in training the top-k of the logits plus the Sinkhorn bias (kernels/sinkhorn), passed
// as the selection bias, for both score functions.
enum class Routing { token_choice, random, expert_choice, hash, sinkhorn };

// moe.group_score: a group's score for group-limited routing — its best selection score
// (DeepSeek-V2) or the sum of its top (top_k / group_topk) selection scores (DeepSeek-V3, Megatron).
enum class GroupScore { max, topk_sum };

// The router's rule (moe.*): the score function, the gates' normalisation and scale, and the
// group limit: experts in `groups` contiguous groups, only the best `group_topk` groups eligible
// (groups = 1: no limit; at most kMaxExpertGroups).
struct RouterRule {
  Routing routing;
  ScoreFunction score;
  GateNorm norm;
  double route_scale;
  int groups, group_topk;
  GroupScore group_score;
};

constexpr int kMaxExpertGroups = 64;  // a token's eligible groups are one 64-bit mask

// The ε of the sigmoid gates' and probabilities' denominators (DeepSeek-V3, Megatron).
constexpr double kScoreSumEpsilon = 1e-20;

struct RouterNoise {
  double std = 0.0;
  uint64_t seed = 0;
  uint64_t stream = 0;
};

// `logits` must already hold x·W_rᵀ. Adds noise (or, for random routing, replaces the logits by
// the noise's N(0, 1) draws), then fills probs, lse, top_idx, gates.
// `selection_bias` [experts] is added to the scores used for selection only (aux-loss-free
// balancing); pass zeros for the plain router.
template <class T>
void router_forward(const RouterState<T>& state, const RouterNoise& noise, const View1<T>& selection_bias,
                    const RouterRule& rule);

// dlogits = ∂L/∂logits from the gate gradients, the load-balancing term
// lb_coef · E · Σ f_e P̄_e (f = assignment fractions, no gradient; `fractions` [G, E] holds one row
// per group of tokens/G consecutive tokens: G = 1 for the micro-batch, the sequences for
// moe.load_balancing_scope = "sequence", where lb is the mean over the groups) and the z-loss term
// z_coef · mean(lse²).
template <class T>
void router_backward(const RouterState<T>& state, const View2<T>& dgates, const View2<T>& fractions, T lb_coef,
                     T z_coef, const View2<T>& dlogits, const RouterRule& rule);

}  // namespace kmoe::kernels
