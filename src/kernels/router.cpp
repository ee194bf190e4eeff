#include "kernels/router.hpp"

#include "core/counter_rng.hpp"
#include "core/kokkos_compat.hpp"

namespace kmoe::kernels {

template <class T>
RouterState<T>::RouterState(int tokens, int experts, int k)
    : logits("router_logits", tokens, experts),
      probs("router_probs", tokens, experts),
      lse("router_lse", tokens),
      top_idx("router_top_idx", tokens, k),
      gates("router_gates", tokens, k) {}

template <class T>
void router_forward(const RouterState<T>& state, const RouterNoise& noise, const View1<T>& selection_bias,
                    GateNorm gate_norm) {
  const auto logits = state.logits;
  const auto probs = state.probs;
  const auto lse = state.lse;
  const auto top_idx = state.top_idx;
  const auto gates = state.gates;
  const int tokens = static_cast<int>(logits.extent(0)), E = static_cast<int>(logits.extent(1));
  const int k = static_cast<int>(top_idx.extent(1));
  const double noise_std = noise.std;
  const uint64_t seed = noise.seed, stream = noise.stream;
  const bool renormalise = gate_norm == GateNorm::selected;
  Kokkos::parallel_for(
      "router_forward", Range(0, tokens), KOKKOS_LAMBDA(int n) {
        if (noise_std > 0.0) {
          for (int e = 0; e < E; ++e) {
            logits(n, e) += static_cast<T>(noise_std * rng::normal(seed, stream, uint64_t(n) * E + e));
          }
        }
        T max_logit = logits(n, 0);
        for (int e = 1; e < E; ++e) max_logit = math::fmax(max_logit, logits(n, e));
        T sum = 0;
        for (int e = 0; e < E; ++e) sum += math::exp(logits(n, e) - max_logit);
        for (int e = 0; e < E; ++e) probs(n, e) = math::exp(logits(n, e) - max_logit) / sum;
        lse(n) = max_logit + math::log(sum);
        // Top-k in the order (score descending, index ascending): each pick is the best element
        // after the previous pick in that order, so ties keep the lower index and the cost is k·E.
        int prev = -1;
        T prev_score = 0;
        for (int s = 0; s < k; ++s) {
          int best = -1;
          T best_score = 0;
          for (int e = 0; e < E; ++e) {
            const T score = logits(n, e) + selection_bias(e);
            const bool after_prev = prev < 0 || score < prev_score || (score == prev_score && e > prev);
            if (after_prev && (best < 0 || score > best_score)) {
              best = e;
              best_score = score;
            }
          }
          top_idx(n, s) = best;
          prev = best;
          prev_score = best_score;
        }
        if (!renormalise) {
          for (int s = 0; s < k; ++s) gates(n, s) = probs(n, top_idx(n, s));
          return;
        }
        T sel_max = logits(n, top_idx(n, 0));
        for (int s = 1; s < k; ++s) sel_max = math::fmax(sel_max, logits(n, top_idx(n, s)));
        T sel_sum = 0;
        for (int s = 0; s < k; ++s) sel_sum += math::exp(logits(n, top_idx(n, s)) - sel_max);
        for (int s = 0; s < k; ++s) gates(n, s) = math::exp(logits(n, top_idx(n, s)) - sel_max) / sel_sum;
      });
}

template <class T>
void router_backward(const RouterState<T>& state, const View2<T>& dgates, const View1<T>& fractions, T lb_coef,
                     T z_coef, const View2<T>& dlogits, GateNorm gate_norm) {
  const auto probs = state.probs;
  const auto lse = state.lse;
  const auto top_idx = state.top_idx;
  const auto gates = state.gates;
  const int tokens = static_cast<int>(probs.extent(0)), E = static_cast<int>(probs.extent(1));
  const int k = static_cast<int>(top_idx.extent(1));
  const T lb_scale = lb_coef * T(E) / T(tokens);  // ∂(lb_coef·E·Σ f_e P̄_e)/∂P_ne = lb_scale·f_e
  const T z_scale = z_coef * T(2) / T(tokens);
  const bool renormalised = gate_norm == GateNorm::selected;
  Kokkos::parallel_for(
      "router_backward", Range(0, tokens), KOKKOS_LAMBDA(int n) {
        T p_dot_dp = 0;
        for (int e = 0; e < E; ++e) p_dot_dp += probs(n, e) * lb_scale * fractions(e);
        for (int e = 0; e < E; ++e) {
          dlogits(n, e) = probs(n, e) * (lb_scale * fractions(e) - p_dot_dp) + z_scale * lse(n) * probs(n, e);
        }
        // gate_s = softmax over the selected logits: ∂gate_s/∂l_j = gate_s(δ_sj − gate_j), j selected;
        // gate_s = P_{i_s}: ∂gate_s/∂l_e = P_{i_s}(δ_{i_s e} − P_e), every e.
        T g_dot_dg = 0;
        for (int s = 0; s < k; ++s) g_dot_dg += gates(n, s) * dgates(n, s);
        if (!renormalised) {
          for (int e = 0; e < E; ++e) dlogits(n, e) -= probs(n, e) * g_dot_dg;
        }
        for (int s = 0; s < k; ++s) {
          dlogits(n, top_idx(n, s)) += gates(n, s) * (dgates(n, s) - (renormalised ? g_dot_dg : T(0)));
        }
      });
}

#define KMOE_INSTANTIATE(T)                                                                                        \
  template struct RouterState<T>;                                                                                  \
  template void router_forward<T>(const RouterState<T>&, const RouterNoise&, const View1<T>&, GateNorm);           \
  template void router_backward<T>(const RouterState<T>&, const View2<T>&, const View1<T>&, T, T, const View2<T>&, \
                                   GateNorm);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
