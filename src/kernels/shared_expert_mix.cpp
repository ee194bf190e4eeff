#include "kernels/shared_expert_mix.hpp"

#include "core/extent_check.hpp"
#include "core/kokkos_compat.hpp"

namespace kmoe::kernels {

namespace {

// The fixed weights of routed and shared output: k/(k+1) and 1/(k+1) for the convex mix, else 1 and
// 1 (the sigmoid gate's weight is per token).
template <class T>
struct MixShares {
  T routed, shared;
  MixShares(SharedGate rule, int k)
      : routed(rule == SharedGate::convex ? T(k) / T(k + 1) : T(1)),
        shared(rule == SharedGate::convex ? T(1) / T(k + 1) : T(1)) {}
};

}  // namespace

template <class T>
void shared_expert_mix_forward(SharedGate rule, int k, const View2<T>& shared, const View2<T>& gate,
                               const View2<T>& routed) {
  KMOE_CHECK_EXTENTS_OF("shared_expert_mix_forward", shared, long(routed.extent(0)), long(routed.extent(1)));
  const int n = static_cast<int>(routed.extent(0)), d = static_cast<int>(routed.extent(1));
  const MixShares<T> shares(rule, k);
  const T routed_share = shares.routed, shared_share = shares.shared;
  Kokkos::parallel_for(
      "shared_expert_mix_forward", TeamPolicy(n, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int row = team.league_rank();
        T beta = shared_share;
        if (rule == SharedGate::sigmoid) {
          beta = math::sigmoid(gate(row, 0));
          team.team_barrier();
          Kokkos::single(Kokkos::PerTeam(team), [&]() { gate(row, 0) = beta; });
        }
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, d), [&](int j) {
          routed(row, j) =
              (rule == SharedGate::convex ? routed_share * routed(row, j) : routed(row, j)) + beta * shared(row, j);
        });
      });
}

template <class T>
void shared_expert_mix_backward(SharedGate rule, int k, const View2<T>& shared, const View2<T>& gate,
                                const View2<T>& dout, const View2<T>& dshared, const View2<T>& dgate) {
  KMOE_CHECK_EXTENTS_OF("shared_expert_mix_backward", shared, long(dout.extent(0)), long(dout.extent(1)));
  KMOE_CHECK_EXTENTS_OF("shared_expert_mix_backward", dshared, long(dout.extent(0)), long(dout.extent(1)));
  const int n = static_cast<int>(dout.extent(0)), d = static_cast<int>(dout.extent(1));
  const MixShares<T> shares(rule, k);
  const T routed_share = shares.routed, shared_share = shares.shared;
  Kokkos::parallel_for(
      "shared_expert_mix_backward", TeamPolicy(n, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int row = team.league_rank();
        const T beta = rule == SharedGate::sigmoid ? gate(row, 0) : shared_share;
        if (rule == SharedGate::sigmoid) {
          T dot = 0;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, d), [&](int j, T& acc) { acc += dout(row, j) * shared(row, j); }, dot);
          Kokkos::single(Kokkos::PerTeam(team), [&]() { dgate(row, 0) = beta * (T(1) - beta) * dot; });
        }
        team.team_barrier();
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, d), [&](int j) {
          dshared(row, j) = beta * dout(row, j);
          if (rule == SharedGate::convex) dout(row, j) *= routed_share;
        });
      });
}

#define KMOE_INSTANTIATE(T)                                                                                       \
  template void shared_expert_mix_forward<T>(SharedGate, int, const View2<T>&, const View2<T>&, const View2<T>&); \
  template void shared_expert_mix_backward<T>(SharedGate, int, const View2<T>&, const View2<T>&, const View2<T>&, \
                                              const View2<T>&, const View2<T>&);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
