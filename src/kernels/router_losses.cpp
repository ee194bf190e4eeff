#include "kernels/router_losses.hpp"

#include "core/kokkos_compat.hpp"

namespace kmoe::kernels {

template <class T>
void router_losses(const RouterState<T>& state, const View1<int>& offsets, LoadFractions convention,
                   const BalanceStatistics<T>& balance, const View1<double>& summary) {
  const auto probs = state.probs;
  const auto lse = state.lse;
  const auto top_idx = state.top_idx;
  const auto fractions = balance.fractions;
  const auto group_mean_probs = balance.group_mean_probs;
  const auto mean_probs = balance.mean_probs;
  const int tokens = static_cast<int>(probs.extent(0)), E = static_cast<int>(probs.extent(1));
  const int k = static_cast<int>(state.top_idx.extent(1)), G = balance.groups(), group_tokens = tokens / G;
  const T total = convention == LoadFractions::per_pick ? T(tokens) * T(k) : T(tokens);
  const bool first_choice = convention == LoadFractions::first_choice;
  const RouterSummary at{E};
  Kokkos::parallel_for(
      "router_fractions_and_mean_probs", TeamPolicy(E + 1, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int e = team.league_rank();
        if (e == E) {  // the last offset
          Kokkos::single(Kokkos::PerTeam(team), [&]() { summary(at.offset(E)) = offsets(E); });
          return;
        }
        T sum = 0;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, tokens), [&](int n, T& acc) { acc += probs(n, e); }, sum);
        int first_picks = 0;
        if (first_choice) {
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, tokens), [&](int n, int& acc) { acc += top_idx(n, 0) == e; }, first_picks);
        }
        Kokkos::single(Kokkos::PerTeam(team), [&]() {
          const T f = T(first_choice ? first_picks : offsets(e + 1) - offsets(e)) / total;
          if (G == 1) fractions(0, e) = f;
          mean_probs(e) = sum / T(tokens);
          summary(at.offset(e)) = offsets(e);
          summary(at.mean_prob(e)) = sum / T(tokens);
          summary(at.fraction(e)) = f;
        });
      });
  if (G > 1) {
    const T group_total = convention == LoadFractions::per_pick ? T(group_tokens) * T(k) : T(group_tokens);
    const int picks = first_choice ? 1 : k;
    Kokkos::parallel_for(
        "router_group_fractions", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {G, E}),
        KOKKOS_LAMBDA(int g, int e) {
          int count = 0;
          T sum = 0;
          for (int n = g * group_tokens; n < (g + 1) * group_tokens; ++n) {
            for (int s = 0; s < picks; ++s) count += top_idx(n, s) == e;
            sum += probs(n, e);
          }
          fractions(g, e) = T(count) / group_total;
          group_mean_probs(g, e) = sum / T(group_tokens);
        });
  }
  // One team sums the losses: the order is fixed for a backend whatever its thread count.
  Kokkos::parallel_for(
      "router_loss_sums", TeamPolicy(1, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        double lb = 0, z = 0, entropy = 0;
        if (G == 1) {
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, E),
              [&](int e, double& acc) { acc += double(fractions(0, e)) * double(mean_probs(e)); }, lb);
        } else {
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, G * E),
              [&](int ge, double& acc) {
                acc += double(fractions(ge / E, ge % E)) * double(group_mean_probs(ge / E, ge % E));
              },
              lb);
          lb /= G;
        }
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, tokens), [&](int n, double& acc) { acc += double(lse(n)) * double(lse(n)); },
            z);
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, tokens),
            [&](int n, double& acc) {
              for (int e = 0; e < E; ++e) {
                const double p = probs(n, e);
                if (p > 0) acc -= p * math::log(p);
              }
            },
            entropy);
        Kokkos::single(Kokkos::PerTeam(team), [&]() {
          summary(at.load_balancing()) = E * lb;
          summary(at.z_loss()) = z / tokens;
          summary(at.entropy()) = entropy / tokens;
        });
      });
}

template <class T>
RouterLossValues router_losses(const RouterState<T>& state, const View1<int>& offsets, LoadFractions convention,
                               const BalanceStatistics<T>& balance) {
  const RouterSummary at{static_cast<int>(state.probs.extent(1))};
  View1<double> summary("router_summary", at.size());
  router_losses(state, offsets, convention, balance, summary);
  const auto host = Kokkos::create_mirror_view_and_copy(HostSpace(), summary);
  return RouterLossValues{host(at.load_balancing()), host(at.z_loss()), host(at.entropy())};
}

#define KMOE_INSTANTIATE(T)                                                                                            \
  template void router_losses<T>(const RouterState<T>&, const View1<int>&, LoadFractions, const BalanceStatistics<T>&, \
                                 const View1<double>&);                                                                \
  template RouterLossValues router_losses<T>(const RouterState<T>&, const View1<int>&, LoadFractions,                  \
                                             const BalanceStatistics<T>&);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
