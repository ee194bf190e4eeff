#include "kernels/capacity_drop.hpp"

namespace kmoe::kernels {

template <class T>
void order_by_gate(const View2<T>& gates, const ExpertAssignment& assignment, const View1<int>& scratch) {
  const int experts = static_cast<int>(assignment.offsets.extent(0)) - 1, k = assignment.k;
  const auto offsets = assignment.offsets, order = assignment.order;
  const int rows = static_cast<int>(order.extent(0));
  Kokkos::parallel_for(
      "copy_order", Range(0, rows), KOKKOS_LAMBDA(int row) { scratch(row) = order(row); });
  // A row's new place in its expert's slice: the rows ahead of it (a higher gate, or an equal gate
  // and a lower assignment). The places are a permutation of the slice.
  Kokkos::parallel_for(
      "order_by_gate", TeamPolicy(experts, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int e = team.league_rank(), begin = offsets(e), end = offsets(e + 1);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, begin, end), [&](int row) {
          const int a = scratch(row);
          const T gate = gates(a / k, a % k);
          int ahead = 0;
          for (int other = begin; other < end; ++other) {
            const int b = scratch(other);
            const T other_gate = gates(b / k, b % k);
            ahead += other_gate > gate || (other_gate == gate && b < a);
          }
          order(begin + ahead) = a;
        });
      });
  assign_slots(assignment);
}

template <class T>
void renormalise_kept_gates_forward(const View2<T>& gates, const ExpertAssignment& assignment, double route_scale,
                                    const View2<T>& kept_gates) {
  const auto slot_of = assignment.slot_of;
  const int k = assignment.k, tokens = static_cast<int>(gates.extent(0));
  const T scale = T(route_scale);
  Kokkos::parallel_for(
      "renormalise_kept_gates_forward", Range(0, tokens), KOKKOS_LAMBDA(int n) {
        T kept_sum = 0;
        for (int s = 0; s < k; ++s) {
          if (slot_of(n * k + s) >= 0) kept_sum += gates(n, s);
        }
        for (int s = 0; s < k; ++s) {
          kept_gates(n, s) = slot_of(n * k + s) >= 0 ? scale * gates(n, s) / kept_sum : T(0);
        }
      });
}

template <class T>
void renormalise_kept_gates_backward(const View2<T>& gates, const ExpertAssignment& assignment, double route_scale,
                                     const View2<T>& dgates) {
  const auto slot_of = assignment.slot_of;
  const int k = assignment.k, tokens = static_cast<int>(gates.extent(0));
  const T scale = T(route_scale);
  Kokkos::parallel_for(
      "renormalise_kept_gates_backward", Range(0, tokens), KOKKOS_LAMBDA(int n) {
        // ∂g'_s/∂g_r = γ (δ_sr Σ − g_s) / Σ² over the kept r, s (Σ = Σ_kept g).
        T kept_sum = 0, weighted = 0;
        for (int s = 0; s < k; ++s) {
          if (slot_of(n * k + s) < 0) continue;
          kept_sum += gates(n, s);
          weighted += dgates(n, s) * gates(n, s);
        }
        for (int s = 0; s < k; ++s) {
          dgates(n, s) = slot_of(n * k + s) >= 0 ? scale / kept_sum * (dgates(n, s) - weighted / kept_sum) : T(0);
        }
      });
}

#define KMOE_INSTANTIATE(T)                                                                                           \
  template void order_by_gate<T>(const View2<T>&, const ExpertAssignment&, const View1<int>&);                        \
  template void renormalise_kept_gates_forward<T>(const View2<T>&, const ExpertAssignment&, double, const View2<T>&); \
  template void renormalise_kept_gates_backward<T>(const View2<T>&, const ExpertAssignment&, double, const View2<T>&);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
