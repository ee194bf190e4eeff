#include "kernels/rmsnorm.hpp"

#include "core/extent_check.hpp"
#include "core/kokkos_compat.hpp"

namespace kmoe::kernels {

template <class T>
void rmsnorm_forward(const View2<T>& x, const View1<T>& gain, T eps, const View2<T>& y, const View1<T>& rstd) {
  KMOE_CHECK_EXTENTS_OF("rmsnorm_forward", gain, long(x.extent(1)));
  KMOE_CHECK_EXTENTS_OF("rmsnorm_forward", y, long(x.extent(0)), long(x.extent(1)));
  KMOE_CHECK_EXTENTS_OF("rmsnorm_forward", rstd, long(x.extent(0)));
  const int n = static_cast<int>(x.extent(0)), d = static_cast<int>(x.extent(1));
  Kokkos::parallel_for(
      "rmsnorm_forward", TeamPolicy(n, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int row = team.league_rank();
        T sum_sq = 0;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, d), [&](int j, T& acc) { acc += x(row, j) * x(row, j); }, sum_sq);
        const T r = math::rsqrt(sum_sq / T(d) + eps);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, d), [&](int j) { y(row, j) = x(row, j) * r * gain(j); });
        Kokkos::single(Kokkos::PerTeam(team), [&]() { rstd(row) = r; });
      });
}

template <class T>
void rmsnorm_backward(const View2<T>& x, const View1<T>& gain, const View1<T>& rstd, const View2<T>& dy,
                      const View2<T>& dx, const View1<T>& dgain, bool accumulate_dx) {
  KMOE_CHECK_EXTENTS_OF("rmsnorm_backward", gain, long(x.extent(1)));
  KMOE_CHECK_EXTENTS_OF("rmsnorm_backward", rstd, long(x.extent(0)));
  KMOE_CHECK_EXTENTS_OF("rmsnorm_backward", dy, long(x.extent(0)), long(x.extent(1)));
  KMOE_CHECK_EXTENTS_OF("rmsnorm_backward", dx, long(x.extent(0)), long(x.extent(1)));
  KMOE_CHECK_EXTENTS_OF("rmsnorm_backward", dgain, long(x.extent(1)));
  const int n = static_cast<int>(x.extent(0)), d = static_cast<int>(x.extent(1));
  Kokkos::parallel_for(
      "rmsnorm_backward_input", TeamPolicy(n, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int row = team.league_rank();
        const T r = rstd(row);
        T dot = 0;  // Σ_j g_j dy_j x_j
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, d), [&](int j, T& acc) { acc += gain(j) * dy(row, j) * x(row, j); }, dot);
        const T coef = dot * r * r * r / T(d);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, d), [&](int j) {
          const T g = r * gain(j) * dy(row, j) - x(row, j) * coef;
          dx(row, j) = accumulate_dx ? dx(row, j) + g : g;
        });
      });
  // Column sums in fixed row order: deterministic without atomics.
  Kokkos::parallel_for(
      "rmsnorm_backward_gain", Range(0, d), KOKKOS_LAMBDA(int j) {
        T sum = 0;
        for (int row = 0; row < n; ++row) sum += dy(row, j) * x(row, j) * rstd(row);
        dgain(j) += sum;
      });
}

#define KMOE_INSTANTIATE(T)                                                                                \
  template void rmsnorm_forward<T>(const View2<T>&, const View1<T>&, T, const View2<T>&, const View1<T>&); \
  template void rmsnorm_backward<T>(const View2<T>&, const View1<T>&, const View1<T>&, const View2<T>&,    \
                                    const View2<T>&, const View1<T>&, bool);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
