#include "core/counter_rng.hpp"
#include "core/kokkos_compat.hpp"
#include "kernels/causal_attention.hpp"

namespace kmoe::kernels {

template <class T>
void causal_attention_forward(const AttentionShape& shape, const View2<T>& q, const View2<T>& k,
                              const View2<T>& v, const AttentionDropout& dropout,
                              const View2<T>& out, const View2<T>& lse) {
  const int T_len = shape.seq_len, H = shape.heads, hd = shape.head_dim;
  const T scale = T(1) / math::sqrt(T(hd));
  const double p = dropout.p;
  const uint64_t seed = dropout.seed, stream = dropout.stream;
  const T keep_scale = T(1.0 / (1.0 - p));
  const int rows = shape.batch * T_len;
  Kokkos::parallel_for(
      "causal_attention_forward", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {rows, H}),
      KOKKOS_LAMBDA(int row, int h) {
        const int b = row / T_len, i = row % T_len, col0 = h * hd;
        T acc[kMaxHeadDim];
        for (int d = 0; d < hd; ++d) acc[d] = 0;
        T running_max = math::lowest<T>(), running_sum = 0;
        const uint64_t mask_base = (static_cast<uint64_t>(b * H + h) * T_len + i) * T_len;
        for (int j = 0; j <= i; ++j) {
          const int key_row = b * T_len + j;
          T s = 0;
          for (int d = 0; d < hd; ++d) s += q(row, col0 + d) * k(key_row, col0 + d);
          s *= scale;
          if (s > running_max) {  // online softmax: rescale what has been accumulated
            const T correction = math::exp(running_max - s);
            running_sum *= correction;
            for (int d = 0; d < hd; ++d) acc[d] *= correction;
            running_max = s;
          }
          const T e = math::exp(s - running_max);
          running_sum += e;
          T weight = e;
          if (p > 0.0) weight = rng::uniform(seed, stream, mask_base + j) >= p ? e * keep_scale : T(0);
          for (int d = 0; d < hd; ++d) acc[d] += weight * v(key_row, col0 + d);
        }
        const T inv = T(1) / running_sum;
        for (int d = 0; d < hd; ++d) out(row, col0 + d) = acc[d] * inv;
        lse(row, h) = running_max + math::log(running_sum);
      });
}

template void causal_attention_forward<float>(const AttentionShape&, const View2<float>&,
                                              const View2<float>&, const View2<float>&,
                                              const AttentionDropout&, const View2<float>&,
                                              const View2<float>&);
template void causal_attention_forward<double>(const AttentionShape&, const View2<double>&,
                                               const View2<double>&, const View2<double>&,
                                               const AttentionDropout&, const View2<double>&,
                                               const View2<double>&);

}  // namespace kmoe::kernels
