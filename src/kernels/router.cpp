#include "kernels/router.hpp"

#include "core/counter_rng.hpp"
#include "core/kokkos_compat.hpp"

namespace kmoe::kernels {

template <class T>
RouterState<T>::RouterState(int tokens, int experts, int k, bool sigmoid_scores)
    : logits("router_logits", tokens, experts),
      probs("router_probs", tokens, experts),
      scores(sigmoid_scores ? View2<T>("router_scores", tokens, experts) : probs),
      lse("router_lse", tokens),
      top_idx("router_top_idx", tokens, k),
      gates("router_gates", tokens, k) {}

template <class T>
void router_forward(const RouterState<T>& state, const RouterNoise& noise, const View1<T>& selection_bias,
                    const RouterRule& rule) {
  const auto logits = state.logits;
  const auto probs = state.probs;
  const auto scores = state.scores;
  const auto lse = state.lse;
  const auto top_idx = state.top_idx;
  const auto gates = state.gates;
  const int tokens = static_cast<int>(logits.extent(0)), E = static_cast<int>(logits.extent(1));
  const int k = static_cast<int>(top_idx.extent(1));
  const double noise_std = noise.std;
  const bool random_logits = rule.routing == Routing::random, expert_choice = rule.routing == Routing::expert_choice;
  const bool select_on_logits = rule.score == ScoreFunction::softmax || rule.routing == Routing::sinkhorn;
  const uint64_t seed = noise.seed, stream = noise.stream;
  const bool renormalise = rule.norm == GateNorm::selected, sigmoid = rule.score == ScoreFunction::sigmoid;
  const T route_scale = T(rule.route_scale), eps = T(kScoreSumEpsilon);
  const int groups = rule.groups, group_topk = rule.group_topk, group_size = E / groups;
  const int group_picks = rule.group_score == GroupScore::topk_sum ? k / group_topk : 1;
  Kokkos::parallel_for(
      "router_forward", Range(0, tokens), KOKKOS_LAMBDA(int n) {
        if (random_logits) {
          for (int e = 0; e < E; ++e) logits(n, e) = static_cast<T>(rng::normal(seed, stream, uint64_t(n) * E + e));
        } else if (noise_std > 0.0) {
          for (int e = 0; e < E; ++e) {
            logits(n, e) += static_cast<T>(noise_std * rng::normal(seed, stream, uint64_t(n) * E + e));
          }
        }
        T max_logit = logits(n, 0);
        for (int e = 1; e < E; ++e) max_logit = math::fmax(max_logit, logits(n, e));
        T sum = 0;
        for (int e = 0; e < E; ++e) sum += math::exp(logits(n, e) - max_logit);
        lse(n) = max_logit + math::log(sum);
        if (sigmoid) {
          T score_sum = 0;
          for (int e = 0; e < E; ++e) {
            scores(n, e) = math::sigmoid(logits(n, e));
            score_sum += scores(n, e);
          }
          for (int e = 0; e < E; ++e) probs(n, e) = scores(n, e) / (score_sum + eps);
        } else {
          for (int e = 0; e < E; ++e) probs(n, e) = math::exp(logits(n, e) - max_logit) / sum;
        }
        if (expert_choice) {  // the experts choose later (choose_tokens); a slot per expert
          for (int e = 0; e < E; ++e) {
            top_idx(n, e) = e;
            gates(n, e) = route_scale * scores(n, e);
          }
          return;
        }
        const auto selection_score = [&](int e) {
          return (select_on_logits ? logits(n, e) : scores(n, e)) + selection_bias(e);
        };
        // The best i ∈ [first, last) with use(i) after (prev, prev_score) in the order (score
        // descending, index ascending): picking k times this way is a top-k whose ties keep the
        // lower index, at k·(last − first) cost.
        const auto next_best = [&](int first, int last, const auto& score_of, const auto& use, int prev, T prev_score,
                                   T& best_score) {
          int best = -1;
          for (int i = first; i < last; ++i) {
            if (!use(i)) continue;
            const T score = score_of(i);
            const bool after_prev = prev < 0 || score < prev_score || (score == prev_score && i > prev);
            if (after_prev && (best < 0 || score > best_score)) {
              best = i;
              best_score = score;
            }
          }
          return best;
        };
        const auto every = [](int) { return true; };
        const auto select_top_k = [&](const auto& use) {
          int prev = -1;
          T prev_score = 0;
          for (int s = 0; s < k; ++s) {
            prev = next_best(0, E, selection_score, use, prev, prev_score, prev_score);
            top_idx(n, s) = prev;
          }
        };
        if (groups == 1) {
          select_top_k(every);
        } else {
          // A group's score: its best selection score, or the sum of its top group_picks.
          const auto group_score = [&](int g) {
            T sum = 0, score = 0;
            int prev = -1;
            for (int p = 0; p < group_picks; ++p) {
              prev = next_best(g * group_size, (g + 1) * group_size, selection_score, every, prev, score, score);
              sum += score;
            }
            return sum;
          };
          uint64_t eligible_groups = 0;
          int prev = -1;
          T prev_score = 0;
          for (int pick = 0; pick < group_topk; ++pick) {
            prev = next_best(0, groups, group_score, every, prev, prev_score, prev_score);
            eligible_groups |= uint64_t(1) << prev;
          }
          select_top_k([&](int e) { return ((eligible_groups >> (e / group_size)) & 1) != 0; });
        }
        if (!renormalise) {
          for (int s = 0; s < k; ++s) gates(n, s) = route_scale * scores(n, top_idx(n, s));
        } else if (sigmoid) {
          T selected_sum = 0;
          for (int s = 0; s < k; ++s) selected_sum += scores(n, top_idx(n, s));
          for (int s = 0; s < k; ++s) gates(n, s) = route_scale * (scores(n, top_idx(n, s)) / (selected_sum + eps));
        } else {  // the softmax over the selected logits
          T sel_max = logits(n, top_idx(n, 0));
          for (int s = 1; s < k; ++s) sel_max = math::fmax(sel_max, logits(n, top_idx(n, s)));
          T sel_sum = 0;
          for (int s = 0; s < k; ++s) sel_sum += math::exp(logits(n, top_idx(n, s)) - sel_max);
          for (int s = 0; s < k; ++s) {
            gates(n, s) = route_scale * (math::exp(logits(n, top_idx(n, s)) - sel_max) / sel_sum);
          }
        }
      });
}

template <class T>
void router_backward(const RouterState<T>& state, const View2<T>& dgates, const View2<T>& fractions, T lb_coef,
                     T z_coef, const View2<T>& dlogits, const RouterRule& rule) {
  const auto logits = state.logits;
  const auto probs = state.probs;
  const auto scores = state.scores;
  const auto lse = state.lse;
  const auto top_idx = state.top_idx;
  const auto gates = state.gates;
  const int tokens = static_cast<int>(probs.extent(0)), E = static_cast<int>(probs.extent(1));
  const int k = static_cast<int>(top_idx.extent(1));
  const T lb_scale = lb_coef * T(E) / T(tokens);  // ∂(lb_coef·E·Σ f_e P̄_e)/∂P_ne = lb_scale·f_e
  const int group_tokens = tokens / static_cast<int>(fractions.extent(0));
  const T z_scale = z_coef * T(2) / T(tokens);
  const bool renormalised = rule.norm == GateNorm::selected, sigmoid = rule.score == ScoreFunction::sigmoid;
  const T route_scale = T(rule.route_scale), eps = T(kScoreSumEpsilon);
  Kokkos::parallel_for(
      "router_backward", Range(0, tokens), KOKKOS_LAMBDA(int n) {
        // Balancing: a_e = ∂L/∂P_ne. Softmax: ∂L/∂l_j = P_j (a_j − Σ_e P_e a_e). Sigmoid, P = s / Z:
        // ∂L/∂l_j = s_j (1 − s_j) / Z · (a_j − Σ_e P_e a_e).
        const int g = n / group_tokens;
        T p_dot_a = 0;
        for (int e = 0; e < E; ++e) p_dot_a += probs(n, e) * lb_scale * fractions(g, e);
        T score_sum = 0;
        if (sigmoid) {
          for (int e = 0; e < E; ++e) score_sum += scores(n, e);
        }
        for (int e = 0; e < E; ++e) {
          const T balancing = lb_scale * fractions(g, e) - p_dot_a;
          if (sigmoid) {
            const T softmax = math::exp(logits(n, e) - lse(n));
            dlogits(n, e) =
                scores(n, e) * (T(1) - scores(n, e)) / (score_sum + eps) * balancing + z_scale * lse(n) * softmax;
          } else {
            dlogits(n, e) = probs(n, e) * balancing + z_scale * lse(n) * probs(n, e);
          }
        }
        // Gates g_s = γ·q_s. Softmax over the selection: ∂q_s/∂l_j = q_s(δ_sj − q_j), j selected.
        // Unnormalised softmax score, q_s = P_{i_s}: ∂q_s/∂l_e = P_{i_s}(δ_{i_s e} − P_e), every e.
        // Sigmoid, unnormalised: ∂q_s/∂l_{i_s} = s_{i_s}(1 − s_{i_s}). Sigmoid over the selection,
        // q_s = s_{i_s} / D with D = Σ_selected s + ε: ∂q_s/∂s_{i_r} = (δ_sr − q_s) / D.
        T g_dot_dg = 0;
        for (int s = 0; s < k; ++s) g_dot_dg += gates(n, s) * dgates(n, s);
        if (sigmoid) {
          T selected_sum = 0;
          for (int s = 0; s < k; ++s) selected_sum += scores(n, top_idx(n, s));
          for (int s = 0; s < k; ++s) {
            const int e = top_idx(n, s);
            const T slope = scores(n, e) * (T(1) - scores(n, e));
            if (renormalised) {
              dlogits(n, e) += route_scale / (selected_sum + eps) * (dgates(n, s) - g_dot_dg / route_scale) * slope;
            } else {
              dlogits(n, e) += route_scale * dgates(n, s) * slope;
            }
          }
          return;
        }
        if (!renormalised) {
          for (int e = 0; e < E; ++e) dlogits(n, e) -= probs(n, e) * g_dot_dg;
        }
        for (int s = 0; s < k; ++s) {
          dlogits(n, top_idx(n, s)) += gates(n, s) * (dgates(n, s) - (renormalised ? g_dot_dg / route_scale : T(0)));
        }
      });
}

#define KMOE_INSTANTIATE(T)                                                                                        \
  template struct RouterState<T>;                                                                                  \
  template void router_forward<T>(const RouterState<T>&, const RouterNoise&, const View1<T>&, const RouterRule&);  \
  template void router_backward<T>(const RouterState<T>&, const View2<T>&, const View2<T>&, T, T, const View2<T>&, \
                                   const RouterRule&);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
