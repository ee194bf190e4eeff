#include "kernels/attention_head_packing.hpp"

#include <algorithm>

namespace kmoe::kernels {

template <class T>
void AttentionWorkspace<T>::ensure(const AttentionShape& s) {
  const size_t rows = size_t(s.batch) * s.heads * s.seq_len;  // grows only: fewer rows use the first ones
  if (q.extent(0) < rows || q.extent(1) != size_t(s.head_dim)) {
    for (View2<T>* buffer : {&q, &k, &v, &out, &dout, &dq, &dk, &dv})
      *buffer = View2<T>("attention_packed", rows, s.head_dim);
    row_dot = View1<T>("attention_row_dot", rows);
  }
  const int heads = s.batch * s.heads;
  const int wanted = std::max(1, std::min(heads, int(kAttentionScoreElements / (size_t(s.seq_len) * s.seq_len))));
  group = wanted;
  if (scores.extent(0) < size_t(group) * s.seq_len * s.seq_len) {
    scores = View1<T>("attention_scores", size_t(group) * s.seq_len * s.seq_len);
    grad_scores = View1<T>("attention_grad_scores", size_t(group) * s.seq_len * s.seq_len);
  }
}

template <class T>
void pack_heads(const AttentionShape& s, const View2<T>& x, const View2<T>& packed) {
  const int T_len = s.seq_len, H = s.heads, hd = s.head_dim;
  Kokkos::parallel_for(
      "pack_heads", TeamPolicy(s.batch * H * T_len, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int r = team.league_rank(), t = r % T_len, bh = r / T_len;
        const T* from = &x((bh / H) * T_len + t, (bh % H) * hd);
        T* to = &packed(r, 0);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, hd), [&](int d) { to[d] = from[d]; });
      });
}

template <class T>
void unpack_heads(const AttentionShape& s, const View2<T>& packed, const View2<T>& x) {
  const int T_len = s.seq_len, H = s.heads, hd = s.head_dim;
  Kokkos::parallel_for(
      "unpack_heads", TeamPolicy(s.batch * H * T_len, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int r = team.league_rank(), t = r % T_len, bh = r / T_len;
        const T* from = &packed(r, 0);
        T* to = &x((bh / H) * T_len + t, (bh % H) * hd);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, hd), [&](int d) { to[d] = from[d]; });
      });
}

#define KMOE_INSTANTIATE(T)                                                             \
  template struct AttentionWorkspace<T>;                                                \
  template void pack_heads<T>(const AttentionShape&, const View2<T>&, const View2<T>&); \
  template void unpack_heads<T>(const AttentionShape&, const View2<T>&, const View2<T>&);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
