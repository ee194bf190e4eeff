// The feed-forward half of a block: x_next = x_mid + Drop(FFN(RMSNorm(x_mid))), where FFN is
// the routed mixture of experts or, for the dense baseline, one SiLU MLP.
#include <algorithm>
#include <cmath>

#include "core/counter_rng.hpp"
#include "core/error.hpp"
#include "kernels/batched_gemm.hpp"
#include "kernels/capacity_drop.hpp"
#include "kernels/dense_gemm.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/expert_choice.hpp"
#include "kernels/expert_dispatch.hpp"
#include "kernels/hash_routing.hpp"
#include "kernels/rmsnorm.hpp"
#include "kernels/router.hpp"
#include "kernels/router_losses.hpp"
#include "kernels/routing_probe.hpp"
#include "kernels/shared_expert_mix.hpp"
#include "kernels/sinkhorn.hpp"
#include "kernels/token_grouping.hpp"
#include "model/moe_transformer.hpp"
#include "model/transformer_sites.hpp"

namespace kmoe {

using namespace kernels;

template <class T>
View2<T> MoeTransformer<T>::expert_matrix(int layer, int expert, ExpertMatrix which) const {
  return params_.matrix(indices_.blocks[layer].expert(expert, which));
}

template <class T>
View2<T> MoeTransformer<T>::expert_matrix_grad(int layer, int expert, ExpertMatrix which) const {
  return params_.matrix_grad(indices_.blocks[layer].expert(expert, which));
}

template <class T>
void MoeTransformer<T>::expert_activation(int layer) {
  auto& a = rows_.blocks[layer];
  silu_dropout_forward(a.hidden, a.activated, dropout_probability(), step_.options.seed,
                       dropout_stream(layer, dropout_site::kInsideExpert), a.activation_kept);
}

template <class T>
int MoeTransformer<T>::expert_capacity() const {
  const auto& c = config_;
  if (c.capacity_factor <= 0) return 0;
  if (c.routing() == Routing::expert_choice) {  // every chosen row is kept
    return step_.tokens / c.choice_group_tokens(step_.tokens) * c.choice_capacity(step_.tokens);
  }
  return static_cast<int>(std::ceil(c.capacity_factor * step_.tokens * c.top_k / c.num_experts));
}

template <class T>
void MoeTransformer<T>::route_tokens(int layer) {
  const auto& c = config_;
  auto& a = rows_.blocks[layer];
  if (c.routing() == Routing::hash) {
    require(hash_table_.extent(0) > 0, "moe.routing = \"hash\" needs its table (set_hash_table) before a forward");
    hash_route_forward(step_.batch.inputs, hash_table_, c.router_rule.route_scale, a.router);
  } else {
    linear_forward(a.normed_ffn, params_.matrix(indices_.blocks[layer].router), a.router.logits);
    RouterNoise noise;
    if (c.routing() == Routing::random) {  // in evaluation too: the baseline routes at random
      noise = RouterNoise{1.0, step_.options.seed,
                          rng::stream_id(rng::Purpose::RandomRouting, static_cast<uint32_t>(layer),
                                         static_cast<uint32_t>(step_.options.rng_step))};
    } else if (step_.options.training) {
      noise = RouterNoise{c.noise_std, step_.options.seed,
                          rng::stream_id(rng::Purpose::RouterNoise, static_cast<uint32_t>(layer),
                                         static_cast<uint32_t>(step_.options.rng_step))};
    }
    View1<T> selection_bias(Kokkos::subview(routing_bias_, layer, Kokkos::ALL()));
    if (c.routing() == Routing::sinkhorn && step_.options.training) {  // evaluation: plain top-k
      sinkhorn_selection_bias(a.router.logits, work_.sinkhorn_bias, work_.sinkhorn);
      selection_bias = work_.sinkhorn_bias;
    }
    router_forward(a.router, noise, selection_bias, c.router_rule);
  }
  if (c.routing() == Routing::expert_choice) {
    choose_tokens(a.router.scores, c.choice_group_tokens(step_.tokens), c.choice_capacity(step_.tokens), a.assignment);
    return;
  }
  const View1<int> assignment_expert(a.router.top_idx.data(), step_.tokens * c.top_k);
  assign_experts(assignment_expert, expert_capacity(), a.assignment, work_.expert_grouping);
  if (c.drop_policy == DropPolicy::probability) order_by_gate(a.router.gates, a.assignment, work_.gate_order);
  if (c.renorm_after_drop) {
    renormalise_kept_gates_forward(a.router.gates, a.assignment, c.router_rule.route_scale, a.kept_gates);
  }
}

template <class T>
void MoeTransformer<T>::routed_pairs(int layer, const View2<uint8_t>& routed) const {
  const auto& a = rows_.blocks[layer];
  routed_pairs_of(a.router.top_idx, a.assignment, routed);
}

template <class T>
View2<T> MoeTransformer<T>::combined_gates(int layer) const {
  const auto& a = rows_.blocks[layer];
  return config_.renorm_after_drop ? a.kept_gates : a.router.gates;
}

template <class T>
void MoeTransformer<T>::ffn_forward(int layer, LayerRouterStats& stats) {
  const auto& c = config_;
  const auto& p = indices_.blocks[layer];
  auto& a = rows_.blocks[layer];
  rmsnorm_forward(a.x_mid, params_.vector(p.ffn_norm), T(c.norm_eps), a.normed_ffn, a.rstd_ffn);
  if (!c.moe) {
    linear_forward(a.normed_ffn, params_.matrix(p.ffn_w1), a.hidden, T(0), c.matmul);
    expert_activation(layer);
    linear_forward(a.activated, params_.matrix(p.ffn_w2), rows_.ffn_out, T(0), c.matmul);
  } else {
    route_tokens(layer);
    dispatch_forward(a.normed_ffn, a.assignment, a.grouped_in);
    router_losses(a.router, a.assignment.offsets, c.lb_fractions, a.balance, a.router_summary);
    count_unrouted_tokens(a.assignment, a.router_summary, RouterSummary{c.num_experts}.unrouted_tokens());
    Kokkos::deep_copy(a.host_router_summary, a.router_summary);  // the layer's one host synchronisation
    expert_products(layer, ExpertMatrix::w1, ExpertProduct::forward, a.grouped_in, a.hidden);
    expert_activation(layer);
    expert_products(layer, ExpertMatrix::w2, ExpertProduct::forward, a.activated, a.expert_out);
    combine_forward(a.expert_out, combined_gates(layer), a.assignment, rows_.ffn_out);
    if (c.shared_width() > 0) shared_experts_forward(layer);
    const RouterSummary at{c.num_experts};
    const auto& summary = a.host_router_summary;
    stats.load_balancing = c.lb_scope == BalanceScope::global_batch && step_.options.training
                               ? global_load_balancing(layer)
                               : summary(at.load_balancing());
    stats.z_loss = summary(at.z_loss());
    stats.entropy = summary(at.entropy());
    for (int e = 0; e < c.num_experts; ++e) {
      stats.expert_tokens.push_back(int64_t(summary(at.offset(e + 1)) - summary(at.offset(e))));
      stats.mean_prob.push_back(summary(at.mean_prob(e)));
    }
    stats.unrouted = int64_t(summary(at.unrouted_tokens()));
    stats.dropped = dropped_assignments([&](int e) { return summary(at.offset(e)); }, c.num_experts, expert_capacity());
  }
  Kokkos::deep_copy(rows_.residual[layer + 1], a.x_mid);
  apply_dropout(rows_.ffn_out, layer, dropout_site::kFfnBranch);
  add_into(rows_.residual[layer + 1], rows_.ffn_out);
}

template <class T>
void MoeTransformer<T>::expert_products(int layer, ExpertMatrix which, ExpertProduct product, const View2<T>& a,
                                        const View2<T>& c) {
  const auto& summary = rows_.blocks[layer].host_router_summary;
  const RouterSummary at{config_.num_experts};
  const auto offsets = [&](int e) { return int(summary(at.offset(e))); };
  const int capacity = expert_capacity();
  const View2<T> w0 = expert_matrix(layer, 0, which);  // every expert's matrix has this shape
  const int out = w0.extent(0), in = w0.extent(1);
  std::vector<GemmProblem<T>> problems;
  for (int e = 0; e < config_.num_experts; ++e) {
    const int begin = offsets(e), rows = kept_rows(offsets(e + 1) - begin, capacity);
    const View2<T> w =
        product == ExpertProduct::weight_grad ? expert_matrix_grad(layer, e, which) : expert_matrix(layer, e, which);
    switch (product) {
      case ExpertProduct::forward:  // c[rows] = a[rows] · Wᵀ
        problems.push_back({rows, out, in, a.data() + size_t(begin) * in, w.data(), c.data() + size_t(begin) * out});
        break;
      case ExpertProduct::input_grad:  // c[rows] = a[rows] · W   (a = ∂ outputs)
        problems.push_back({rows, in, out, a.data() + size_t(begin) * out, w.data(), c.data() + size_t(begin) * in});
        break;
      case ExpertProduct::weight_grad:  // ∂W += a[rows]ᵀ · c[rows]   (a = ∂ outputs, c = inputs)
        problems.push_back({out, in, rows, a.data() + size_t(begin) * out, c.data() + size_t(begin) * in, w.data()});
        break;
    }
  }
  switch (product) {
    case ExpertProduct::forward:
      grouped_gemm<T>(false, true, T(1), in, in, T(0), out, problems, config_.matmul);
      break;
    case ExpertProduct::input_grad:
      grouped_gemm<T>(false, false, T(1), out, in, T(0), in, problems, config_.matmul);
      break;
    case ExpertProduct::weight_grad:
      grouped_gemm<T>(true, false, T(1), out, in, T(1), in, problems, config_.matmul);
      break;
  }
}

template <class T>
void MoeTransformer<T>::shared_experts_forward(int layer) {
  const auto& c = config_;
  const auto& p = indices_.blocks[layer];
  auto& a = rows_.blocks[layer].shared;
  const auto& x = rows_.blocks[layer].normed_ffn;
  linear_forward(x, params_.matrix(p.shared_w1), a.hidden, T(0), c.matmul);
  silu_dropout_forward(a.hidden, a.activated, dropout_probability(), step_.options.seed,
                       dropout_stream(layer, dropout_site::kInsideSharedExpert), a.kept);
  linear_forward(a.activated, params_.matrix(p.shared_w2), a.out, T(0), c.matmul);
  if (c.shared_gate == SharedGate::sigmoid) linear_forward(x, params_.matrix(p.shared_gate), a.gate);
  shared_expert_mix_forward(c.shared_gate, c.top_k, a.out, a.gate, rows_.ffn_out);
}

template <class T>
void MoeTransformer<T>::shared_experts_mix_backward(int layer) {
  const auto& a = rows_.blocks[layer].shared;
  auto& s = rows_.scratch;
  shared_expert_mix_backward(config_.shared_gate, config_.top_k, a.out, a.gate, s.dbranch, s.shared.dout,
                             s.shared.dgate);
}

template <class T>
void MoeTransformer<T>::shared_experts_backward(int layer) {
  const auto& c = config_;
  const auto& p = indices_.blocks[layer];
  const auto& a = rows_.blocks[layer].shared;
  const auto& x = rows_.blocks[layer].normed_ffn;
  auto& s = rows_.scratch;
  linear_backward_weight(s.shared.dout, a.activated, params_.matrix_grad(p.shared_w2), c.matmul);
  linear_backward_input(s.shared.dout, params_.matrix(p.shared_w2), s.shared.dactivated, T(0), c.matmul);
  silu_dropout_backward(a.hidden, s.shared.dactivated, s.shared.dhidden, dropout_probability(), a.kept);
  linear_backward_weight(s.shared.dhidden, x, params_.matrix_grad(p.shared_w1), c.matmul);
  linear_backward_input(s.shared.dhidden, params_.matrix(p.shared_w1), s.dnormed, T(1), c.matmul);
  if (c.shared_gate == SharedGate::sigmoid) {
    linear_backward_weight(s.shared.dgate, x, params_.matrix_grad(p.shared_gate));
    linear_backward_input(s.shared.dgate, params_.matrix(p.shared_gate), s.dnormed, T(1));
  }
}

template <class T>
void MoeTransformer<T>::ffn_backward(int layer) {
  const auto& c = config_;
  const auto& p = indices_.blocks[layer];
  auto& a = rows_.blocks[layer];
  auto& s = rows_.scratch;
  // s.dx holds ∂L/∂x_next on entry and ∂L/∂x_mid on exit.
  Kokkos::deep_copy(s.dbranch, s.dx);
  apply_dropout_backward(s.dbranch, layer, dropout_site::kFfnBranch);
  if (!c.moe) {
    linear_backward_weight(s.dbranch, a.activated, params_.matrix_grad(p.ffn_w2), c.matmul);
    linear_backward_input(s.dbranch, params_.matrix(p.ffn_w2), s.dactivated, T(0), c.matmul);
    silu_dropout_backward(a.hidden, s.dactivated, s.dhidden, dropout_probability(), a.activation_kept);
    linear_backward_weight(s.dhidden, a.normed_ffn, params_.matrix_grad(p.ffn_w1), c.matmul);
    linear_backward_input(s.dhidden, params_.matrix(p.ffn_w1), s.dnormed, T(0), c.matmul);
  } else {
    if (c.shared_width() > 0) shared_experts_mix_backward(layer);
    combine_backward(a.expert_out, combined_gates(layer), a.assignment, s.dbranch, s.dgates, s.dexpert_out);
    if (c.renorm_after_drop) {
      renormalise_kept_gates_backward(a.router.gates, a.assignment, c.router_rule.route_scale, s.dgates);
    }
    expert_products(layer, ExpertMatrix::w2, ExpertProduct::weight_grad, s.dexpert_out, a.activated);
    expert_products(layer, ExpertMatrix::w2, ExpertProduct::input_grad, s.dexpert_out, s.dactivated);
    silu_dropout_backward(a.hidden, s.dactivated, s.dhidden, dropout_probability(), a.activation_kept);
    expert_products(layer, ExpertMatrix::w1, ExpertProduct::weight_grad, s.dhidden, a.grouped_in);
    expert_products(layer, ExpertMatrix::w1, ExpertProduct::input_grad, s.dhidden, s.dgrouped);
    Kokkos::deep_copy(s.dnormed, T(0));
    dispatch_backward(s.dgrouped, a.assignment, s.dnormed);
    if (c.has_router()) {  // hash routing has none
      // Summed layers: the full weight; averaged or pooled: 1/L of it (∂/∂P_lne of E·Σ f̄ P̄̄ is
      // E·f̄_e / (L·T)). The f: the layer's, its sequences', the update's so far, or the layers' mean.
      double lb_coef = step_.options.lb_weight * step_.options.grad_scale;
      if (c.lb_layers != BalanceLayers::sum) lb_coef /= c.n_layers;
      router_backward(a.router, s.dgates, balance_fractions(layer), T(lb_coef),
                      T(step_.options.z_weight * step_.options.grad_scale), s.dlogits, c.router_rule);
      linear_backward_input(s.dlogits, params_.matrix(p.router), s.dnormed, T(1));
      linear_backward_weight(s.dlogits, a.normed_ffn, params_.matrix_grad(p.router));
    }
    if (c.shared_width() > 0) shared_experts_backward(layer);
  }
  rmsnorm_backward(a.x_mid, params_.vector(p.ffn_norm), a.rstd_ffn, s.dnormed, s.dx, params_.vector_grad(p.ffn_norm),
                   true);
}

#define KMOE_INSTANTIATE(T)                                                                           \
  template View2<T> MoeTransformer<T>::expert_matrix(int, int, ExpertMatrix) const;                   \
  template View2<T> MoeTransformer<T>::expert_matrix_grad(int, int, ExpertMatrix) const;              \
  template int MoeTransformer<T>::expert_capacity() const;                                            \
  template void MoeTransformer<T>::expert_activation(int);                                            \
  template void MoeTransformer<T>::expert_products(int, ExpertMatrix, ExpertProduct, const View2<T>&, \
                                                   const View2<T>&);                                  \
  template void MoeTransformer<T>::route_tokens(int);                                                 \
  template void MoeTransformer<T>::routed_pairs(int, const View2<uint8_t>&) const;                    \
  template View2<T> MoeTransformer<T>::combined_gates(int) const;                                     \
  template void MoeTransformer<T>::ffn_forward(int, LayerRouterStats&);                               \
  template void MoeTransformer<T>::ffn_backward(int);                                                 \
  template void MoeTransformer<T>::shared_experts_forward(int);                                       \
  template void MoeTransformer<T>::shared_experts_mix_backward(int);                                  \
  template void MoeTransformer<T>::shared_experts_backward(int);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe
