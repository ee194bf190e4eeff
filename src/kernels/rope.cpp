#include "kernels/rope.hpp"

#include "core/kokkos_compat.hpp"

namespace kmoe::kernels {

namespace {
// A free function: CUDA extended lambdas cannot live in constructors.
template <class T>
void fill_rope_table(const View2<T>& cos, const View2<T>& sin, int head_dim, double base) {
  Kokkos::parallel_for(
      "rope_table", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {int(cos.extent(0)), int(cos.extent(1))}),
      KOKKOS_LAMBDA(int pos, int i) {
        const double angle = pos * math::pow(base, -2.0 * i / head_dim);
        cos(pos, i) = static_cast<T>(math::cos(angle));
        sin(pos, i) = static_cast<T>(math::sin(angle));
      });
}
}  // namespace

template <class T>
RopeTable<T>::RopeTable(int seq_len, int head_dim, double base)
    : cos("rope_cos", seq_len, head_dim / 2), sin("rope_sin", seq_len, head_dim / 2) {
  fill_rope_table(cos, sin, head_dim, base);
}

namespace {

// direction = +1: the rotation; −1: its inverse, which is the backward (the rotation is orthogonal).
template <class T>
void rope_rotate(const View2<T>& x, const RopeTable<T>& table, int direction) {
  const int n = static_cast<int>(x.extent(0));
  const int pairs = static_cast<int>(x.extent(1)) / 2;
  const int seq_len = static_cast<int>(table.cos.extent(0)), half = static_cast<int>(table.cos.extent(1));
  const auto cos = table.cos;
  const auto sin = table.sin;
  const T sign = T(direction);
  Kokkos::parallel_for(
      "rope_rotate", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {n, pairs}),
      KOKKOS_LAMBDA(int row, int pair) {
        const int pos = row % seq_len, i = pair % half;
        const T c = cos(pos, i), s = sign * sin(pos, i);
        const T x0 = x(row, 2 * pair), x1 = x(row, 2 * pair + 1);
        x(row, 2 * pair) = x0 * c - x1 * s;
        x(row, 2 * pair + 1) = x1 * c + x0 * s;
      });
}

}  // namespace

template <class T>
void rope_forward(const View2<T>& x, const RopeTable<T>& table) {
  rope_rotate(x, table, +1);
}

template <class T>
void rope_backward(const View2<T>& dx, const RopeTable<T>& table) {
  rope_rotate(dx, table, -1);
}

template struct RopeTable<float>;
template struct RopeTable<double>;
template void rope_forward<float>(const View2<float>&, const RopeTable<float>&);
template void rope_forward<double>(const View2<double>&, const RopeTable<double>&);
template void rope_backward<float>(const View2<float>&, const RopeTable<float>&);
template void rope_backward<double>(const View2<double>&, const RopeTable<double>&);

}  // namespace kmoe::kernels
