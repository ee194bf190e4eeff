// Per-layer router losses and statistics:
//   Switch load balancing  lb = E · Σ_e f_e · P̄_e   (P̄_e = mean_n P_ne; f_e as LoadFractions says)
//   z-loss                 z  = mean_n logsumexp(logits_n)²
//   router entropy         H  = mean_n −Σ_e P_ne log P_ne
// Values are unweighted; the model multiplies by the deck's coefficients.
#pragma once

#include "kernels/router.hpp"

namespace kmoe::kernels {

// moe.load_balancing_fractions: what f counts (docs/routing.md).
//   per_pick      f_e = assignments to e / (T·k): all k picks, sums to 1 (Megatron, OLMo-core); lb = 1 at balance
//   per_token     f_e = assignments to e / T: sums to k (Hugging Face, flaxformer); lb = k at balance
//   first_choice  f_e = tokens whose first pick is e / T (GShard, DeepSpeed top-2, Tutel); lb = 1 at balance
enum class LoadFractions { per_pick, per_token, first_choice };

// moe.load_balancing_layers: how the layers' losses combine — summed (Megatron), averaged (OLMo-core,
// megablocks), or pooled: f and P̄ averaged over the layers first, then one E·Σ f P̄ (Hugging Face).
enum class BalanceLayers { sum, mean, pooled };

// moe.load_balancing_scope: the tokens f and P̄ are taken over — the micro-batch (Megatron aux_loss),
// each sequence (DeepSeek seq_aux; the loss is the sequences' mean), or the optimizer update's
// micro-batches so far (Qwen / Megatron global_aux_loss: f from the running counts, P̄ local).
enum class BalanceScope { micro_batch, sequence, global_batch };

// The loss of the combined layers at perfect balance (f and P uniform).
inline double balanced_load_balancing(LoadFractions fractions, BalanceLayers layers, int k, int n_layers) {
  const double per_layer = fractions == LoadFractions::per_token ? k : 1;
  return layers == BalanceLayers::sum ? per_layer * n_layers : per_layer;
}

struct RouterLossValues {
  double load_balancing = 0;
  double z_loss = 0;
  double entropy = 0;
};

// One layer's routing numbers in one device buffer, so the host reads them with one copy:
// the expert offsets [0, E], the mean router probabilities, the fractions f, the three losses, then
// the tokens no expert took (count_unrouted_tokens).
struct RouterSummary {
  int experts;
  KOKKOS_INLINE_FUNCTION int size() const { return 3 * experts + 5; }
  KOKKOS_INLINE_FUNCTION int offset(int e) const { return e; }
  KOKKOS_INLINE_FUNCTION int mean_prob(int e) const { return experts + 1 + e; }
  KOKKOS_INLINE_FUNCTION int fraction(int e) const { return 2 * experts + 1 + e; }
  KOKKOS_INLINE_FUNCTION int load_balancing() const { return 3 * experts + 1; }
  KOKKOS_INLINE_FUNCTION int z_loss() const { return 3 * experts + 2; }
  KOKKOS_INLINE_FUNCTION int entropy() const { return 3 * experts + 3; }
  KOKKOS_INLINE_FUNCTION int unrouted_tokens() const { return 3 * experts + 4; }
};

// `offsets` [E+1] groups the (token, slot) assignments by expert (group_by_key); fills
// fractions [E], mean_probs [E] and `summary` (RouterSummary layout) on the device, without
// waiting for it.
// f and P̄ of the balancing loss, over the micro-batch (one row) or per group of tokens / G
// consecutive tokens (G rows: the sequences, moe.load_balancing_scope = "sequence", where the loss
// is the mean of the groups' E·Σ f P̄).
template <class T>
struct BalanceStatistics {
  View2<T> fractions;         // [G, E] f, no gradient
  View2<T> group_mean_probs;  // [G, E] P̄ of each group (G > 1 only)
  View1<T> mean_probs;        // [E] P̄ over the micro-batch (statistics)
  int groups() const { return static_cast<int>(fractions.extent(0)); }
};

template <class T>
void router_losses(const RouterState<T>& state, const View1<int>& offsets, LoadFractions convention,
                   const BalanceStatistics<T>& balance, const View1<double>& summary);
// The same, returning the losses to the host (tests, benchmarks).
template <class T>
RouterLossValues router_losses(const RouterState<T>& state, const View1<int>& offsets, LoadFractions convention,
                               const BalanceStatistics<T>& balance);

}  // namespace kmoe::kernels
