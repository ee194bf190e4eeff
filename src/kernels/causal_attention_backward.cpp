#include "core/counter_rng.hpp"
#include "core/kokkos_compat.hpp"
#include "kernels/causal_attention.hpp"

namespace kmoe::kernels {

template <class T>
void causal_attention_backward(const AttentionShape& shape, const View2<T>& q, const View2<T>& k,
                               const View2<T>& v, const View2<T>& out, const View2<T>& lse,
                               const View2<T>& dout, const AttentionDropout& dropout,
                               const View2<T>& dq, const View2<T>& dk, const View2<T>& dv,
                               const View2<T>& row_dot) {
  const int T_len = shape.seq_len, H = shape.heads, hd = shape.head_dim;
  const T scale = T(1) / math::sqrt(T(hd));
  const double p = dropout.p;
  const uint64_t seed = dropout.seed, stream = dropout.stream;
  const T keep_scale = T(1.0 / (1.0 - p));
  const int rows = shape.batch * T_len;
  const Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>> every_row_head({0, 0}, {rows, H});

  // Pass 1, per query row i: D_i = dO_i·O_i and dQ_i = scale Σ_j dS_ij K_j,
  // with dS_ij = P_ij (m_ij dO_i·V_j − D_i) and m_ij the dropout multiplier.
  Kokkos::parallel_for(
      "causal_attention_backward_dq", every_row_head, KOKKOS_LAMBDA(int row, int h) {
        const int b = row / T_len, i = row % T_len, col0 = h * hd;
        T D = 0;
        for (int d = 0; d < hd; ++d) D += dout(row, col0 + d) * out(row, col0 + d);
        row_dot(row, h) = D;
        T acc[kMaxHeadDim];
        for (int d = 0; d < hd; ++d) acc[d] = 0;
        const T L = lse(row, h);
        const uint64_t mask_base = (static_cast<uint64_t>(b * H + h) * T_len + i) * T_len;
        for (int j = 0; j <= i; ++j) {
          const int key_row = b * T_len + j;
          T s = 0, dp = 0;
          for (int d = 0; d < hd; ++d) {
            s += q(row, col0 + d) * k(key_row, col0 + d);
            dp += dout(row, col0 + d) * v(key_row, col0 + d);
          }
          const T prob = math::exp(s * scale - L);
          if (p > 0.0) dp = rng::uniform(seed, stream, mask_base + j) >= p ? dp * keep_scale : T(0);
          const T ds = prob * (dp - D) * scale;
          for (int d = 0; d < hd; ++d) acc[d] += ds * k(key_row, col0 + d);
        }
        for (int d = 0; d < hd; ++d) dq(row, col0 + d) = acc[d];
      });

  // Pass 2, per key row j: dK_j = scale Σ_{i≥j} dS_ij Q_i, dV_j = Σ_{i≥j} m_ij P_ij dO_i.
  Kokkos::parallel_for(
      "causal_attention_backward_dkv", every_row_head, KOKKOS_LAMBDA(int key_row, int h) {
        const int b = key_row / T_len, j = key_row % T_len, col0 = h * hd;
        T acc_k[kMaxHeadDim], acc_v[kMaxHeadDim];
        for (int d = 0; d < hd; ++d) acc_k[d] = acc_v[d] = 0;
        for (int i = j; i < T_len; ++i) {
          const int row = b * T_len + i;
          T s = 0, dp = 0;
          for (int d = 0; d < hd; ++d) {
            s += q(row, col0 + d) * k(key_row, col0 + d);
            dp += dout(row, col0 + d) * v(key_row, col0 + d);
          }
          const T prob = math::exp(s * scale - lse(row, h));
          T multiplier = 1;
          if (p > 0.0) {
            const uint64_t mask_index = (static_cast<uint64_t>(b * H + h) * T_len + i) * T_len + j;
            multiplier = rng::uniform(seed, stream, mask_index) >= p ? keep_scale : T(0);
          }
          const T ds = prob * (multiplier * dp - row_dot(row, h)) * scale;
          const T pv = prob * multiplier;
          for (int d = 0; d < hd; ++d) {
            acc_k[d] += ds * q(row, col0 + d);
            acc_v[d] += pv * dout(row, col0 + d);
          }
        }
        for (int d = 0; d < hd; ++d) {
          dk(key_row, col0 + d) = acc_k[d];
          dv(key_row, col0 + d) = acc_v[d];
        }
      });
}

#define KMOE_INSTANTIATE(T)                                                                    \
  template void causal_attention_backward<T>(                                                  \
      const AttentionShape&, const View2<T>&, const View2<T>&, const View2<T>&, const View2<T>&, \
      const View2<T>&, const View2<T>&, const AttentionDropout&, const View2<T>&, const View2<T>&, \
      const View2<T>&, const View2<T>&);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
