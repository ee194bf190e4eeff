#include "core/counter_rng.hpp"
#include "core/kokkos_compat.hpp"
#include "kernels/dropout_mask.hpp"
#include "kernels/attention_head_packing.hpp"
#include "kernels/dense_gemm.hpp"

#include <algorithm>

namespace kmoe::kernels {

namespace {

// For one group, from S = scale·Q·Kᵀ (in `scores`) and G = dO·Vᵀ (in `grad`):
//   P = exp(S − L) on j ≤ i, m = dropout multiplier,
//   grad ← dS·scale = P ∘ (m ∘ G − D_i) · scale,   scores ← m ∘ P  (for dV = (m∘P)ᵀ·dO).
template <class T>
void attention_score_gradients(const AttentionShape& s, int first_head, int count, const View1<T>& scores,
                               const View1<T>& grad, const View2<T>& lse, const View1<T>& row_dot,
                               const AttentionDropout& dropout, T scale) {
  const int T_len = s.seq_len, H = s.heads;
  const DropoutMask mask{dropout.p, dropout.seed, dropout.stream};
  Kokkos::parallel_for(
      "attention_score_gradients", TeamPolicy(count * T_len, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int r = team.league_rank();
        const ScoreRow where(r, first_head, T_len);
        const int i = where.i;
        T* srow = scores.data() + size_t(r) * T_len;
        T* grow = grad.data() + size_t(r) * T_len;
        const T L = lse(where.token(T_len, H), where.head(H));
        const T D = row_dot(size_t(where.bh) * T_len + i);
        const uint64_t block_base = where.first_dropout_block(T_len);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, dropout_blocks_per_row(T_len)), [&](int jb) {
          const rng::Block4 bits = mask.block(block_base + jb);
          for (int lane = 0; lane < 4 && 4 * jb + lane < T_len; ++lane) {
            const int j = 4 * jb + lane;
            if (j > i) {
              srow[j] = grow[j] = T(0);
              continue;
            }
            const T prob = math::exp(srow[j] - L);
            const T m = mask.multiplier<T>(bits, lane);
            grow[j] = prob * (m * grow[j] - D) * scale;
            srow[j] = m * prob;
          }
        });
      });
}

}  // namespace

template <class T>
void causal_attention_backward(const AttentionShape& s, const View2<T>& q, const View2<T>& k, const View2<T>& v,
                               const View2<T>& out, const View2<T>& lse, const View2<T>& dout,
                               const AttentionDropout& dropout, const View2<T>& dq, const View2<T>& dk,
                               const View2<T>& dv, AttentionWorkspace<T>& ws) {
  ws.ensure(s);
  pack_heads(s, q, ws.q);
  pack_heads(s, k, ws.k);
  pack_heads(s, v, ws.v);
  pack_heads(s, out, ws.out);
  pack_heads(s, dout, ws.dout);
  const int hd = s.head_dim;
  const auto packed_out = ws.out;
  const auto packed_dout = ws.dout;
  const auto row_dot = ws.row_dot;
  Kokkos::parallel_for(
      "attention_row_dot", Range(0, row_dot.extent(0)), KOKKOS_LAMBDA(size_t r) {
        T dot = 0;
        for (int d = 0; d < hd; ++d) dot += packed_dout(r, d) * packed_out(r, d);
        row_dot(r) = dot;
      });
  const T scale = T(1) / math::sqrt(T(hd));
  const int heads = s.batch * s.heads, T_len = s.seq_len;
  for (int first = 0; first < heads; first += ws.group) {
    const int count = std::min(ws.group, heads - first);
    for (int g = 0; g < count; ++g) {
      const int h = first + g;
      gemm<T>("N", "T", scale, head_rows(ws.q, T_len, h, 1), head_rows(ws.k, T_len, h, 1), T(0),
              score_block(ws.scores, T_len, g));
      gemm<T>("N", "T", T(1), head_rows(ws.dout, T_len, h, 1), head_rows(ws.v, T_len, h, 1), T(0),
              score_block(ws.grad_scores, T_len, g));
    }
    attention_score_gradients(s, first, count, ws.scores, ws.grad_scores, lse, ws.row_dot, dropout, scale);
    for (int g = 0; g < count; ++g) {
      const int h = first + g;
      const View2<T> probs = score_block(ws.scores, T_len, g), dscores = score_block(ws.grad_scores, T_len, g);
      gemm<T>("T", "N", T(1), probs, head_rows(ws.dout, T_len, h, 1), T(0), head_rows(ws.dv, T_len, h, 1));
      gemm<T>("N", "N", T(1), dscores, head_rows(ws.k, T_len, h, 1), T(0), head_rows(ws.dq, T_len, h, 1));
      gemm<T>("T", "N", T(1), dscores, head_rows(ws.q, T_len, h, 1), T(0), head_rows(ws.dk, T_len, h, 1));
    }
  }
  unpack_heads(s, ws.dq, dq);
  unpack_heads(s, ws.dk, dk);
  unpack_heads(s, ws.dv, dv);
}

#define KMOE_INSTANTIATE(T)                                                                                \
  template void causal_attention_backward<T>(const AttentionShape&, const View2<T>&, const View2<T>&,      \
                                             const View2<T>&, const View2<T>&, const View2<T>&,            \
                                             const View2<T>&, const AttentionDropout&, const View2<T>&,    \
                                             const View2<T>&, const View2<T>&, AttentionWorkspace<T>&);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
