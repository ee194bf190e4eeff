// The attention half of a block: x_mid = x + Drop(Wo · Attn(RoPE(Wq·n), RoPE(Wk·n), Wv·n)),
// n = RMSNorm(x).
#include "core/counter_rng.hpp"
#include "kernels/causal_attention.hpp"
#include "kernels/dense_gemm.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/rmsnorm.hpp"
#include "kernels/rope.hpp"
#include "model/moe_transformer.hpp"
#include "model/transformer_sites.hpp"

namespace kmoe {

using namespace kernels;

template <class T>
AttentionDropout MoeTransformer<T>::attention_dropout(int layer) const {
  AttentionDropout d;
  if (step_.options.training)
    d = AttentionDropout{config_.dropout, step_.options.seed, dropout_stream(layer, dropout_site::kAttentionProbs),
                         rows_.blocks[layer].attn_kept};
  return d;
}

template <class T>
void MoeTransformer<T>::attention_forward(int layer, const View2<T>& x) {
  const auto& c = config_;
  const auto& p = indices_.blocks[layer];
  auto& a = rows_.blocks[layer];
  rmsnorm_forward(x, params_.vector(p.attn_norm), T(c.norm_eps), a.normed_attn, a.rstd_attn);
  linear_forward(a.normed_attn, params_.matrix(p.wq), a.q, T(0), c.matmul);
  linear_forward(a.normed_attn, params_.matrix(p.wk), a.k, T(0), c.matmul);
  linear_forward(a.normed_attn, params_.matrix(p.wv), a.v, T(0), c.matmul);
  rope_forward(a.q, rope_table_);
  rope_forward(a.k, rope_table_);
  const AttentionShape shape = attention_shape(c, step_.tokens);
  causal_attention_forward(shape, a.q, a.k, a.v, attention_dropout(layer), a.attn_out, a.attn_lse, work_.attention,
                           c.matmul);
  linear_forward(a.attn_out, params_.matrix(p.wo), a.x_mid, T(0), c.matmul);
  apply_dropout(a.x_mid, layer, dropout_site::kAttentionBranch);
  add_into(a.x_mid, x);
}

template <class T>
void MoeTransformer<T>::attention_backward(int layer) {
  const auto& c = config_;
  const auto& p = indices_.blocks[layer];
  auto& a = rows_.blocks[layer];
  auto& s = rows_.scratch;
  // s.dx holds ∂L/∂x_mid on entry and ∂L/∂x on exit.
  Kokkos::deep_copy(s.dbranch, s.dx);
  apply_dropout_backward(s.dbranch, layer, dropout_site::kAttentionBranch);
  linear_backward_weight(s.dbranch, a.attn_out, params_.matrix_grad(p.wo), c.matmul);
  linear_backward_input(s.dbranch, params_.matrix(p.wo), s.dattn, T(0), c.matmul);
  const AttentionShape shape = attention_shape(c, step_.tokens);
  causal_attention_backward(shape, a.q, a.k, a.v, a.attn_out, a.attn_lse, s.dattn, attention_dropout(layer), s.dq, s.dk,
                            s.dv, work_.attention, c.matmul);
  rope_backward(s.dq, rope_table_);
  rope_backward(s.dk, rope_table_);
  linear_backward_weight(s.dq, a.normed_attn, params_.matrix_grad(p.wq), c.matmul);
  linear_backward_weight(s.dk, a.normed_attn, params_.matrix_grad(p.wk), c.matmul);
  linear_backward_weight(s.dv, a.normed_attn, params_.matrix_grad(p.wv), c.matmul);
  linear_backward_input(s.dq, params_.matrix(p.wq), s.dnormed, T(0), c.matmul);
  linear_backward_input(s.dk, params_.matrix(p.wk), s.dnormed, T(1), c.matmul);
  linear_backward_input(s.dv, params_.matrix(p.wv), s.dnormed, T(1), c.matmul);
  rmsnorm_backward(rows_.residual[layer], params_.vector(p.attn_norm), a.rstd_attn, s.dnormed, s.dx,
                   params_.vector_grad(p.attn_norm), true);
}

#define KMOE_INSTANTIATE(T)                                                  \
  template AttentionDropout MoeTransformer<T>::attention_dropout(int) const; \
  template void MoeTransformer<T>::attention_forward(int, const View2<T>&);  \
  template void MoeTransformer<T>::attention_backward(int);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe
