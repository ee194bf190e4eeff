#include <algorithm>

#include "core/error.hpp"
#include "core/fast_exp.hpp"
#include "core/kokkos_compat.hpp"
#include "kernels/attention_head_packing.hpp"
#include "kernels/batched_gemm.hpp"
#include "kernels/chunk_loop.hpp"
#include "kernels/dropout_mask.hpp"

namespace kmoe::kernels {

namespace {

// For one group, from S = scale·Q·Kᵀ (in `scores`) and G = dO·Vᵀ (in `grad`):
//   P = exp(S − L) on j ≤ i, m = dropout multiplier (from the forward's recorded mask),
//   grad ← dS·scale = P ∘ (m ∘ G − D_i) · scale,   scores ← m ∘ P  (for dV = (m∘P)ᵀ·dO).
template <class T>
void attention_score_gradients(const AttentionShape& s, int first_head, int count, const View1<T>& scores,
                               const View1<T>& grad, const View2<T>& lse, const View1<T>& row_dot,
                               const AttentionDropout& dropout, T scale) {
  const int T_len = s.seq_len, H = s.heads;
  const DropoutMask mask{dropout.p, dropout.seed, dropout.stream};
  const auto kept = dropout.kept;
  Kokkos::parallel_for(
      "attention_score_gradients", TeamPolicy(count * T_len, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int r = team.league_rank();
        const ScoreRow where(r, first_head, T_len);
        const int i = where.i;
        T* srow = scores.data() + size_t(r) * T_len;
        T* grow = grad.data() + size_t(r) * T_len;
        const T L = lse(where.token(T_len, H), where.head(H));
        const T D = row_dot(size_t(where.bh) * T_len + i);
        if (mask.active()) {  // the mask the forward recorded, as far as the diagonal
          const size_t kept_base = where.first_kept_word(T_len);
          const T keep_scale = mask.keep_scale<T>();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, column_groups(i)), [&](int group) {
            const uint32_t bits = kept(kept_base + group);
            T* scols = srow + kColumnGroup * group;
            T* gcols = grow + kColumnGroup * group;
            for_chunk<kColumnGroup>(group_columns(i, group), [&](int c) {
              const T prob = math::fast_exp(scols[c] - L);
              const T m = (bits >> c & 1) ? keep_scale : T(0);
              gcols[c] = prob * (m * gcols[c] - D) * scale;
              scols[c] = m * prob;
            });
          });
        } else {  // m = 1
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, i + 1), [&](int j) {
            const T prob = math::fast_exp(srow[j] - L);
            grow[j] = prob * (grow[j] - D) * scale;
            srow[j] = prob;
          });
        }
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, i + 1, T_len), [&](int j) { srow[j] = grow[j] = T(0); });
      });
}

}  // namespace

template <class T>
void causal_attention_backward(const AttentionShape& s, const View2<T>& q, const View2<T>& k, const View2<T>& v,
                               const View2<T>& out, const View2<T>& lse, const View2<T>& dout,
                               const AttentionDropout& dropout, const View2<T>& dq, const View2<T>& dk,
                               const View2<T>& dv, AttentionWorkspace<T>& ws, Matmul matmul) {
  require(dropout.p <= 0.0 || dropout.kept.extent(0) >= attention_kept_words(s),
          "causal_attention_backward: dropout.kept holds fewer than attention_kept_words(shape) words");
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
      "attention_row_dot", Range(0, size_t(s.batch) * s.heads * s.seq_len), KOKKOS_LAMBDA(size_t r) {
        T dot = 0;
        for (int d = 0; d < hd; ++d) dot += packed_dout(r, d) * packed_out(r, d);
        row_dot(r) = dot;
      });
  const T scale = T(1) / math::sqrt(T(hd));
  const int heads = s.batch * s.heads, T_len = s.seq_len;
  const size_t head_stride = size_t(T_len) * hd, block_stride = size_t(T_len) * T_len;
  for (int first = 0; first < heads; first += ws.group) {
    const int count = std::min(ws.group, heads - first);
    const size_t offset = first * head_stride;
    const MatrixBatch scores_from_heads{count, head_stride, head_stride, block_stride};
    const MatrixBatch heads_from_scores{count, block_stride, head_stride, head_stride};
    // S = scale · Q · Kᵀ and G = dO · Vᵀ, then P and dS from them, then the three gradients
    batched_gemm<T>(false, true, T_len, T_len, hd, scale, ws.q.data() + offset, hd, ws.k.data() + offset, hd, T(0),
                    ws.scores.data(), T_len, scores_from_heads, CausalPart::lower_output, matmul);
    batched_gemm<T>(false, true, T_len, T_len, hd, T(1), ws.dout.data() + offset, hd, ws.v.data() + offset, hd, T(0),
                    ws.grad_scores.data(), T_len, scores_from_heads, CausalPart::lower_output, matmul);
    attention_score_gradients(s, first, count, ws.scores, ws.grad_scores, lse, ws.row_dot, dropout, scale);
    batched_gemm<T>(true, false, T_len, hd, T_len, T(1), ws.scores.data(), T_len, ws.dout.data() + offset, hd, T(0),
                    ws.dv.data() + offset, hd, heads_from_scores, CausalPart::lower_left_transposed, matmul);
    batched_gemm<T>(false, false, T_len, hd, T_len, T(1), ws.grad_scores.data(), T_len, ws.k.data() + offset, hd, T(0),
                    ws.dq.data() + offset, hd, heads_from_scores, CausalPart::lower_left, matmul);
    batched_gemm<T>(true, false, T_len, hd, T_len, T(1), ws.grad_scores.data(), T_len, ws.q.data() + offset, hd, T(0),
                    ws.dk.data() + offset, hd, heads_from_scores, CausalPart::lower_left_transposed, matmul);
  }
  unpack_heads(s, ws.dq, dq);
  unpack_heads(s, ws.dk, dk);
  unpack_heads(s, ws.dv, dv);
}

#define KMOE_INSTANTIATE(T)                                                                                            \
  template void causal_attention_backward<T>(const AttentionShape&, const View2<T>&, const View2<T>&, const View2<T>&, \
                                             const View2<T>&, const View2<T>&, const View2<T>&,                        \
                                             const AttentionDropout&, const View2<T>&, const View2<T>&,                \
                                             const View2<T>&, AttentionWorkspace<T>&, Matmul);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
