#include "kernels/router_losses.hpp"

#include "core/kokkos_compat.hpp"

namespace kmoe::kernels {

template <class T>
RouterLossValues router_losses(const RouterState<T>& state, const View1<int>& offsets,
                               const View1<T>& fractions, const View1<T>& mean_probs) {
  const auto probs = state.probs;
  const auto lse = state.lse;
  const int tokens = static_cast<int>(probs.extent(0)), E = static_cast<int>(probs.extent(1));
  const int k = static_cast<int>(state.top_idx.extent(1));
  const T total = T(tokens) * T(k);
  Kokkos::parallel_for(
      "router_fractions_and_mean_probs", Range(0, E), KOKKOS_LAMBDA(int e) {
        fractions(e) = T(offsets(e + 1) - offsets(e)) / total;
        T sum = 0;
        for (int n = 0; n < tokens; ++n) sum += probs(n, e);
        mean_probs(e) = sum / T(tokens);
      });
  RouterLossValues values;
  double lb = 0;
  Kokkos::parallel_reduce(
      "router_load_balancing", Range(0, E),
      KOKKOS_LAMBDA(int e, double& acc) { acc += double(fractions(e)) * double(mean_probs(e)); }, lb);
  values.load_balancing = E * lb;
  double z = 0, entropy = 0;
  Kokkos::parallel_reduce(
      "router_z_loss", Range(0, tokens),
      KOKKOS_LAMBDA(int n, double& acc) { acc += double(lse(n)) * double(lse(n)); }, z);
  Kokkos::parallel_reduce(
      "router_entropy", Range(0, tokens),
      KOKKOS_LAMBDA(int n, double& acc) {
        for (int e = 0; e < E; ++e) {
          const double p = probs(n, e);
          if (p > 0) acc -= p * math::log(p);
        }
      },
      entropy);
  values.z_loss = z / tokens;
  values.entropy = entropy / tokens;
  return values;
}

template RouterLossValues router_losses<float>(const RouterState<float>&, const View1<int>&,
                                               const View1<float>&, const View1<float>&);
template RouterLossValues router_losses<double>(const RouterState<double>&, const View1<int>&,
                                                const View1<double>&, const View1<double>&);

}  // namespace kmoe::kernels
