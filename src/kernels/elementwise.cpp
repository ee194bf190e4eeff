#include "kernels/elementwise.hpp"

#include "core/counter_rng.hpp"
#include "core/error.hpp"
#include "core/kokkos_compat.hpp"

namespace kmoe::kernels {
namespace {
template <class V>
Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>> every_element(const V& v) {
  return Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {int(v.extent(0)), int(v.extent(1))});
}
}  // namespace

template <class T>
void silu_forward(const View2<T>& x, const View2<T>& y) {
  Kokkos::parallel_for(
      "silu_forward", every_element(x), KOKKOS_LAMBDA(int i, int j) {
        const T v = x(i, j);
        y(i, j) = v / (T(1) + math::exp(-v));
      });
}

template <class T>
void silu_backward(const View2<T>& x, const View2<T>& dy, const View2<T>& dx) {
  Kokkos::parallel_for(
      "silu_backward", every_element(x), KOKKOS_LAMBDA(int i, int j) {
        const T v = x(i, j);
        const T s = T(1) / (T(1) + math::exp(-v));
        dx(i, j) = dy(i, j) * s * (T(1) + v * (T(1) - s));
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
  const size_t n = x.span();
  T* data = x.data();
  const T keep_scale = static_cast<T>(1.0 / (1.0 - p));
  Kokkos::parallel_for(
      "dropout_apply", Range(0, (n + 3) / 4), KOKKOS_LAMBDA(size_t block) {
        const rng::Block4 r = rng::philox4x32(seed, stream, block);
        for (int lane = 0; lane < 4; ++lane) {
          const size_t e = 4 * block + lane;
          if (e < n) data[e] = rng::word_to_unit(r.v[lane]) >= p ? data[e] * keep_scale : T(0);
        }
      });
}

#define KMOE_INSTANTIATE(T)                                                                 \
  template void silu_forward<T>(const View2<T>&, const View2<T>&);                          \
  template void silu_backward<T>(const View2<T>&, const View2<T>&, const View2<T>&);        \
  template void add_into<T>(const View2<T>&, const View2<T>&);                              \
  template void dropout_apply<T>(const View2<T>&, double, uint64_t, uint64_t);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
