#include "kernels/sinkhorn.hpp"

#include "core/kokkos_compat.hpp"

namespace kmoe::kernels {

template <class T>
SinkhornWorkspace<T>::SinkhornWorkspace(int tokens, int experts)
    : row_scale("sinkhorn_row_scale", tokens),
      row_max("sinkhorn_row_max", tokens),
      col_scale("sinkhorn_col_scale", experts),
      previous("sinkhorn_previous", experts),
      iterations("sinkhorn_iterations", 1) {}

template <class T>
void sinkhorn_selection_bias(const View2<T>& logits, const View1<T>& bias, const SinkhornWorkspace<T>& workspace) {
  const int tokens = static_cast<int>(logits.extent(0)), E = static_cast<int>(logits.extent(1));
  const auto d0 = workspace.row_scale, row_max = workspace.row_max, d1 = workspace.col_scale;
  const auto previous = workspace.previous;
  const auto iterations = workspace.iterations;
  const T eps = T(kSinkhornEpsilon), tol = T(kSinkhornTolerance);
  // One team runs the whole iteration: each step needs all of the previous one.
  Kokkos::parallel_for(
      "sinkhorn_selection_bias", TeamPolicy(1, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, tokens), [&](int n) {
          T m = logits(n, 0);
          for (int e = 1; e < E; ++e) m = math::fmax(m, logits(n, e));
          row_max(n) = m;
        });
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, E), [&](int e) { d1(e) = T(1); });
        team.team_barrier();
        int iteration = 0;
        T change = tol + T(1);
        while (change > tol && iteration < kSinkhornMaxIterations) {
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, tokens), [&](int n) {
            T sum = 0;
            for (int e = 0; e < E; ++e) sum += d1(e) * math::exp(logits(n, e) - row_max(n));
            d0(n) = T(1) / T(tokens) / (sum + eps);
          });
          team.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, E), [&](int e) {
            T sum = 0;
            for (int n = 0; n < tokens; ++n) sum += d0(n) * math::exp(logits(n, e) - row_max(n));
            previous(e) = d1(e);
            d1(e) = T(1) / T(E) / (sum + eps);
          });
          team.team_barrier();
          change = 0;  // every thread sums the same values in the same order, so all agree
          for (int e = 0; e < E; ++e) {
            const T step = d1(e) - previous(e);
            change += step < 0 ? -step : step;
          }
          change /= T(E);
          ++iteration;
          team.team_barrier();
        }
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, E), [&](int e) { bias(e) = math::log(d1(e)); });
        Kokkos::single(Kokkos::PerTeam(team), [&]() { iterations(0) = iteration; });
      });
}

#define KMOE_INSTANTIATE(T)             \
  template struct SinkhornWorkspace<T>; \
  template void sinkhorn_selection_bias<T>(const View2<T>&, const View1<T>&, const SinkhornWorkspace<T>&);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
