#include "kernels/elementwise.hpp"

#include "core/counter_rng.hpp"
#include "core/error.hpp"
#include "core/kokkos_compat.hpp"
#include "kernels/dropout_mask.hpp"

namespace kmoe::kernels {
namespace {
template <class V>
Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>> every_element(const V& v) {
  return Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {int(v.extent(0)), int(v.extent(1))});
}
}  // namespace

namespace {
// Calls f(element, keep_multiplier) for every element of a contiguous view, drawing the
// dropout masks four per Philox block (multiplier 1 when p = 0).
template <class T, class F>
void for_each_with_dropout(const char* name, size_t n, double p, uint64_t seed, uint64_t stream, const F& f) {
  const DropoutMask mask{p, seed, stream};
  Kokkos::parallel_for(
      name, Range(0, (n + 3) / 4), KOKKOS_LAMBDA(size_t block) {
        const rng::Block4 r = mask.block(block);
        for (int lane = 0; lane < 4; ++lane) {
          const size_t e = 4 * block + lane;
          if (e >= n) break;
          f(e, mask.multiplier<T>(r, lane));
        }
      });
}
}  // namespace

template <class T>
void silu_dropout_forward(const View2<T>& h, const View2<T>& act, double p, uint64_t seed, uint64_t stream,
                          const View1<uint8_t>& kept) {
  require(h.span_is_contiguous() && act.span_is_contiguous(), "silu_dropout_forward needs contiguous views");
  const size_t n = h.span();
  require(p <= 0.0 || kept.extent(0) >= dropout_bit_bytes(n), "silu_dropout_forward: mask bit buffer too small");
  const T* in = h.data();
  T* out = act.data();
  const DropoutMask mask{p, seed, stream};
  const auto bits = kept;
  // Eight elements (two Philox blocks) per work item, so each writes one whole byte of bits.
  Kokkos::parallel_for(
      "silu_dropout_forward", Range(0, dropout_bit_bytes(n)), KOKKOS_LAMBDA(size_t byte) {
        uint8_t kept_bits = 0;
        for (int half = 0; half < 2; ++half) {
          const rng::Block4 r = mask.block(2 * byte + half);
          for (int lane = 0; lane < 4; ++lane) {
            const size_t e = 8 * byte + 4 * half + lane;
            if (e >= n) break;
            const T keep = mask.multiplier<T>(r, lane);
            const T v = in[e];
            out[e] = keep * (v / (T(1) + math::exp(-v)));
            kept_bits |= uint8_t(keep != T(0)) << (4 * half + lane);
          }
        }
        if (mask.active()) bits(byte) = kept_bits;
      });
}

template <class T>
void silu_dropout_backward(const View2<T>& h, const View2<T>& dact, const View2<T>& dh, double p,
                           const View1<uint8_t>& kept) {
  require(h.span_is_contiguous() && dact.span_is_contiguous() && dh.span_is_contiguous(),
          "silu_dropout_backward needs contiguous views");
  const size_t n = h.span();
  require(p <= 0.0 || kept.extent(0) >= dropout_bit_bytes(n), "silu_dropout_backward: mask bit buffer too small");
  const T* in = h.data();
  const T* grad = dact.data();
  T* out = dh.data();
  const bool active = p > 0.0;
  const T scale = active ? T(1.0 / (1.0 - p)) : T(1);
  const auto bits = kept;
  Kokkos::parallel_for(
      "silu_dropout_backward", Range(0, n), KOKKOS_LAMBDA(size_t e) {
        const T keep = !active || (bits(e / 8) >> (e % 8) & 1) ? scale : T(0);
        const T v = in[e];
        const T s = T(1) / (T(1) + math::exp(-v));
        out[e] = keep * grad[e] * s * (T(1) + v * (T(1) - s));
      });
}

template <class T>
void add_into(const View2<T>& y, const View2<T>& x) {
  Kokkos::parallel_for(
      "add_into", every_element(y), KOKKOS_LAMBDA(int i, int j) { y(i, j) += x(i, j); });
}

template <class T>
void dropout_apply(const View2<T>& x, double p, uint64_t seed, uint64_t stream) {
  if (p <= 0.0) return;
  require(x.span_is_contiguous(), "dropout_apply needs a contiguous view");
  T* data = x.data();
  for_each_with_dropout<T>("dropout_apply", x.span(), p, seed, stream,
                           KOKKOS_LAMBDA(size_t e, T keep) { data[e] *= keep; });
}

#define KMOE_INSTANTIATE(T)                                                                 \
  template void silu_dropout_forward<T>(const View2<T>&, const View2<T>&, double, uint64_t, uint64_t,        \
                                        const View1<uint8_t>&);                                             \
  template void silu_dropout_backward<T>(const View2<T>&, const View2<T>&, const View2<T>&, double,            \
                                         const View1<uint8_t>&);                                             \
  template void add_into<T>(const View2<T>&, const View2<T>&);                              \
  template void dropout_apply<T>(const View2<T>&, double, uint64_t, uint64_t);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
