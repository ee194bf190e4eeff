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
void silu_dropout_forward(const View2<T>& h, const View2<T>& act, double p, uint64_t seed, uint64_t stream) {
  require(h.span_is_contiguous() && act.span_is_contiguous(), "silu_dropout_forward needs contiguous views");
  const T* in = h.data();
  T* out = act.data();
  for_each_with_dropout<T>("silu_dropout_forward", h.span(), p, seed, stream, KOKKOS_LAMBDA(size_t e, T keep) {
    const T v = in[e];
    out[e] = keep * (v / (T(1) + math::exp(-v)));
  });
}

template <class T>
void silu_dropout_backward(const View2<T>& h, const View2<T>& dact, const View2<T>& dh, double p, uint64_t seed,
                           uint64_t stream) {
  require(h.span_is_contiguous() && dact.span_is_contiguous() && dh.span_is_contiguous(),
          "silu_dropout_backward needs contiguous views");
  const T* in = h.data();
  const T* grad = dact.data();
  T* out = dh.data();
  for_each_with_dropout<T>("silu_dropout_backward", h.span(), p, seed, stream, KOKKOS_LAMBDA(size_t e, T keep) {
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
  template void silu_dropout_forward<T>(const View2<T>&, const View2<T>&, double, uint64_t, uint64_t);          \
  template void silu_dropout_backward<T>(const View2<T>&, const View2<T>&, const View2<T>&, double, uint64_t,  \
                                         uint64_t);                                                           \
  template void add_into<T>(const View2<T>&, const View2<T>&);                              \
  template void dropout_apply<T>(const View2<T>&, double, uint64_t, uint64_t);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
