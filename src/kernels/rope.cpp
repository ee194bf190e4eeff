#include "kernels/rope.hpp"

#include "core/kokkos_compat.hpp"

namespace kmoe::kernels {

template <class T>
void rope_rotate(const View2<T>& x, int seq_len, int head_dim, double base, int direction) {
  const int n = static_cast<int>(x.extent(0));
  const int pairs = static_cast<int>(x.extent(1)) / 2;
  const int half = head_dim / 2;
  Kokkos::parallel_for(
      "rope_rotate", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {n, pairs}),
      KOKKOS_LAMBDA(int row, int pair) {
        const int i = pair % half;  // pair index within the head
        const double inv_freq = math::pow(base, -2.0 * i / head_dim);
        const double angle = (row % seq_len) * inv_freq;
        const T c = static_cast<T>(math::cos(angle));
        const T s = static_cast<T>(direction * math::sin(angle));
        const T x0 = x(row, 2 * pair), x1 = x(row, 2 * pair + 1);
        x(row, 2 * pair) = x0 * c - x1 * s;
        x(row, 2 * pair + 1) = x1 * c + x0 * s;
      });
}

template void rope_rotate<float>(const View2<float>&, int, int, double, int);
template void rope_rotate<double>(const View2<double>&, int, int, double, int);

}  // namespace kmoe::kernels
