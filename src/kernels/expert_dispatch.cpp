#include "kernels/expert_dispatch.hpp"

namespace kmoe::kernels {

void assign_slots(const View1<int>& offsets, const View1<int>& order, int capacity, const View1<int>& slot_of) {
  const int num_experts = static_cast<int>(offsets.extent(0)) - 1;
  Kokkos::deep_copy(slot_of, -1);
  Kokkos::parallel_for(
      "assign_slots", TeamPolicy(num_experts, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int e = team.league_rank();
        const int begin = offsets(e), kept_end = begin + kept_rows(offsets(e + 1) - begin, capacity);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, begin, kept_end),
                             [&](int row) { slot_of(order(row)) = row; });
      });
}

template <class T>
void dispatch_forward(const View2<T>& x, const View1<int>& order, int k, const View2<T>& grouped) {
  Kokkos::parallel_for(
      "dispatch_forward",
      Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {int(grouped.extent(0)), int(grouped.extent(1))}),
      KOKKOS_LAMBDA(int row, int j) { grouped(row, j) = x(order(row) / k, j); });
}

template <class T>
void combine_forward(const View2<T>& expert_out, const View2<T>& gates, const View1<int>& slot_of,
                     const View2<T>& out) {
  const int k = static_cast<int>(gates.extent(1));
  Kokkos::parallel_for(
      "combine_forward",
      Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {int(out.extent(0)), int(out.extent(1))}),
      KOKKOS_LAMBDA(int n, int j) {
        T sum = 0;
        for (int s = 0; s < k; ++s) {
          const int slot = slot_of(n * k + s);
          if (slot >= 0) sum += gates(n, s) * expert_out(slot, j);
        }
        out(n, j) = sum;
      });
}

template <class T>
void combine_backward(const View2<T>& expert_out, const View2<T>& gates, const View1<int>& slot_of,
                      const View2<T>& dout, const View2<T>& dgates, const View2<T>& dexpert_out) {
  const int k = static_cast<int>(gates.extent(1)), d = static_cast<int>(dout.extent(1));
  Kokkos::parallel_for(
      "combine_backward", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {int(dout.extent(0)), k}),
      KOKKOS_LAMBDA(int n, int s) {
        const int slot = slot_of(n * k + s);
        T dot = 0;
        if (slot >= 0) {
          for (int j = 0; j < d; ++j) {
            dot += dout(n, j) * expert_out(slot, j);
            dexpert_out(slot, j) = gates(n, s) * dout(n, j);
          }
        }
        dgates(n, s) = dot;
      });
}

template <class T>
void dispatch_backward(const View2<T>& dgrouped, const View1<int>& slot_of, int k, const View2<T>& dx) {
  Kokkos::parallel_for(
      "dispatch_backward",
      Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {int(dx.extent(0)), int(dx.extent(1))}),
      KOKKOS_LAMBDA(int n, int j) {
        T sum = 0;
        for (int s = 0; s < k; ++s) {
          const int slot = slot_of(n * k + s);
          if (slot >= 0) sum += dgrouped(slot, j);
        }
        dx(n, j) += sum;
      });
}

#define KMOE_INSTANTIATE(T)                                                                               \
  template void dispatch_forward<T>(const View2<T>&, const View1<int>&, int, const View2<T>&);            \
  template void combine_forward<T>(const View2<T>&, const View2<T>&, const View1<int>&, const View2<T>&); \
  template void combine_backward<T>(const View2<T>&, const View2<T>&, const View1<int>&, const View2<T>&, \
                                    const View2<T>&, const View2<T>&);                                    \
  template void dispatch_backward<T>(const View2<T>&, const View1<int>&, int, const View2<T>&);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
