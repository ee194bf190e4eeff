#include <algorithm>

#include "core/counter_rng.hpp"
#include "core/error.hpp"
#include "core/fast_exp.hpp"
#include "core/kokkos_compat.hpp"
#include "kernels/attention_head_packing.hpp"
#include "kernels/batched_gemm.hpp"
#include "kernels/chunk_loop.hpp"
#include "kernels/dropout_mask.hpp"

namespace kmoe::kernels {

namespace {

// Row-wise causal softmax of a group of score blocks, in place, then dropout; writes lse and the
// dropout mask bits.
template <class T>
void causal_softmax_rows(const AttentionShape& s, int first_head, int count, const View1<T>& scores,
                         const AttentionDropout& dropout, const View2<T>& lse) {
  const int T_len = s.seq_len, H = s.heads;
  const DropoutMask mask{dropout.p, dropout.seed, dropout.stream};
  const auto kept = dropout.kept;
  Kokkos::parallel_for(
      "causal_softmax_rows", TeamPolicy(count * T_len, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int r = team.league_rank();
        const ScoreRow where(r, first_head, T_len);
        const int i = where.i;
        T* row = scores.data() + size_t(r) * T_len;
        T max_score = math::lowest<T>();
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, i + 1), [&](int j, T& m) { m = row[j] > m ? row[j] : m; },
            Kokkos::Max<T>(max_score));
        T sum = 0;  // the row keeps exp(s − max) so each element needs one exp
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, column_groups(i)),
            [&](int group, T& acc) {
              T* cols = row + kColumnGroup * group;
              const int count = group_columns(i, group);
              for_chunk<kColumnGroup>(count, [&](int c) { cols[c] = math::fast_exp(cols[c] - max_score); });
              for (int c = 0; c < count; ++c) acc += cols[c];
            },
            sum);
        const T L = max_score + math::log(sum), inv_sum = T(1) / sum;
        team.team_barrier();
        if (mask.active()) {  // mask blocks only as far as the diagonal, recorded for the backward
          const uint64_t block_base = where.first_dropout_block(T_len);
          const size_t kept_base = where.first_kept_word(T_len);
          const T scale = inv_sum * mask.keep_scale<T>();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, column_groups(i)), [&](int group) {
            uint32_t words[kColumnGroup];
            mask.words(block_base + kColumnGroup / 4 * group, words);
            const uint32_t bits = mask.kept_bits(words);
            kept(kept_base + group) = bits;
            T* cols = row + kColumnGroup * group;
            for_chunk<kColumnGroup>(group_columns(i, group), [&](int c) { cols[c] *= (bits >> c & 1) ? scale : T(0); });
          });
        } else {
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, i + 1), [&](int j) { row[j] *= inv_sum; });
        }
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, i + 1, T_len), [&](int j) { row[j] = T(0); });
        Kokkos::single(Kokkos::PerTeam(team), [&]() { lse(where.token(T_len, H), where.head(H)) = L; });
      });
}

}  // namespace

template <class T>
void causal_attention_forward(const AttentionShape& s, const View2<T>& q, const View2<T>& k, const View2<T>& v,
                              const AttentionDropout& dropout, const View2<T>& out, const View2<T>& lse,
                              AttentionWorkspace<T>& ws, Matmul matmul) {
  require(dropout.p <= 0.0 || dropout.kept.extent(0) >= attention_kept_words(s),
          "causal_attention_forward: dropout.kept holds fewer than attention_kept_words(shape) words");
  ws.ensure(s);
  pack_heads(s, q, ws.q);
  pack_heads(s, k, ws.k);
  pack_heads(s, v, ws.v);
  const T scale = T(1) / math::sqrt(T(s.head_dim));
  const int heads = s.batch * s.heads, T_len = s.seq_len, hd = s.head_dim;
  const size_t head_stride = size_t(T_len) * hd, block_stride = size_t(T_len) * T_len;
  for (int first = 0; first < heads; first += ws.group) {
    const int count = std::min(ws.group, heads - first);
    const size_t offset = first * head_stride;
    // S = scale · Q · Kᵀ, then P = dropout(softmax(S)), then O = P · V, for every head of the group
    batched_gemm<T>(false, true, T_len, T_len, hd, scale, ws.q.data() + offset, hd, ws.k.data() + offset, hd, T(0),
                    ws.scores.data(), T_len, {count, head_stride, head_stride, block_stride}, CausalPart::lower_output,
                    matmul);
    causal_softmax_rows(s, first, count, ws.scores, dropout, lse);
    batched_gemm<T>(false, false, T_len, hd, T_len, T(1), ws.scores.data(), T_len, ws.v.data() + offset, hd, T(0),
                    ws.out.data() + offset, hd, {count, block_stride, head_stride, head_stride}, CausalPart::lower_left,
                    matmul);
  }
  unpack_heads(s, ws.out, out);
}

template void causal_attention_forward<float>(const AttentionShape&, const View2<float>&, const View2<float>&,
                                              const View2<float>&, const AttentionDropout&, const View2<float>&,
                                              const View2<float>&, AttentionWorkspace<float>&, Matmul);
template void causal_attention_forward<double>(const AttentionShape&, const View2<double>&, const View2<double>&,
                                               const View2<double>&, const AttentionDropout&, const View2<double>&,
                                               const View2<double>&, AttentionWorkspace<double>&, Matmul);

}  // namespace kmoe::kernels
