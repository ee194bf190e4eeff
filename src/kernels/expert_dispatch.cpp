#include "kernels/expert_dispatch.hpp"

#include "core/extent_check.hpp"

namespace kmoe::kernels {

ExpertAssignment::ExpertAssignment(int experts, int rows, int assignments, int k)
    : offsets("offsets", experts + 1), order("order", rows), slot_of("slot_of", assignments), k(k) {}

ExpertAssignment ExpertAssignment::first_assignments(int rows, int assignments) const {
  ExpertAssignment out = *this;
  out.order = first_rows(order, rows);
  out.slot_of = first_rows(slot_of, assignments);
  return out;
}

void assign_experts(const View1<int>& expert_of, int capacity, ExpertAssignment& assignment,
                    KeyGroupingWorkspace& workspace) {
  assignment.capacity = capacity;
  group_by_key(expert_of, static_cast<int>(assignment.offsets.extent(0)) - 1, assignment.offsets, assignment.order,
               workspace);
  assign_slots(assignment);
}

void assign_slots(const ExpertAssignment& assignment) {
  const int num_experts = static_cast<int>(assignment.offsets.extent(0)) - 1, capacity = assignment.capacity;
  const auto offsets = assignment.offsets, order = assignment.order, slot_of = assignment.slot_of;
  Kokkos::deep_copy(slot_of, -1);
  Kokkos::parallel_for(
      "assign_slots", TeamPolicy(num_experts, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int e = team.league_rank();
        const int begin = offsets(e), kept_end = begin + kept_rows(offsets(e + 1) - begin, capacity);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, begin, kept_end),
                             [&](int row) { slot_of(order(row)) = row; });
      });
}

void count_unrouted_tokens(const ExpertAssignment& assignment, const View1<double>& summary, int at) {
  const auto slot_of = assignment.slot_of;
  const int k = assignment.k, tokens = static_cast<int>(slot_of.extent(0)) / k;
  // Sums of ones: exact in double, whatever the order.
  Kokkos::parallel_reduce(
      "count_unrouted_tokens", Range(0, tokens),
      KOKKOS_LAMBDA(int n, double& unrouted) {
        bool routed = false;
        for (int s = 0; s < k; ++s) routed = routed || slot_of(n * k + s) >= 0;
        unrouted += routed ? 0.0 : 1.0;
      },
      Kokkos::subview(summary, at));
}

template <class T>
void dispatch_forward(const View2<T>& x, const ExpertAssignment& assignment, const View2<T>& grouped) {
  KMOE_CHECK_EXTENTS_OF("dispatch_forward", grouped, long(assignment.order.extent(0)), long(x.extent(1)));
  const auto order = assignment.order;
  const int k = assignment.k;
  Kokkos::parallel_for(
      "dispatch_forward",
      Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {int(grouped.extent(0)), int(grouped.extent(1))}),
      KOKKOS_LAMBDA(int row, int j) { grouped(row, j) = x(order(row) / k, j); });
}

template <class T>
void combine_forward(const View2<T>& expert_out, const View2<T>& gates, const ExpertAssignment& assignment,
                     const View2<T>& out) {
  KMOE_CHECK_EXTENTS_OF("combine_forward", gates, long(out.extent(0)), long(assignment.k));
  KMOE_CHECK_EXTENTS_OF("combine_forward", expert_out, long(assignment.slot_of.extent(0)), long(out.extent(1)));
  const auto slot_of = assignment.slot_of;
  const int k = assignment.k;
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
void combine_backward(const View2<T>& expert_out, const View2<T>& gates, const ExpertAssignment& assignment,
                      const View2<T>& dout, const View2<T>& dgates, const View2<T>& dexpert_out) {
  KMOE_CHECK_EXTENTS_OF("combine_backward", gates, long(dout.extent(0)), long(assignment.k));
  KMOE_CHECK_EXTENTS_OF("combine_backward", dgates, long(dout.extent(0)), long(assignment.k));
  KMOE_CHECK_EXTENTS_OF("combine_backward", expert_out, long(assignment.slot_of.extent(0)), long(dout.extent(1)));
  KMOE_CHECK_EXTENTS_OF("combine_backward", dexpert_out, long(assignment.slot_of.extent(0)), long(dout.extent(1)));
  const auto slot_of = assignment.slot_of;
  const int k = assignment.k, d = static_cast<int>(dout.extent(1));
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
void dispatch_backward(const View2<T>& dgrouped, const ExpertAssignment& assignment, const View2<T>& dx) {
  KMOE_CHECK_EXTENTS_OF("dispatch_backward", dx, long(assignment.slot_of.extent(0) / assignment.k),
                        long(dgrouped.extent(1)));
  const auto slot_of = assignment.slot_of;
  const int k = assignment.k;
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

#define KMOE_INSTANTIATE(T)                                                                                     \
  template void dispatch_forward<T>(const View2<T>&, const ExpertAssignment&, const View2<T>&);                 \
  template void combine_forward<T>(const View2<T>&, const View2<T>&, const ExpertAssignment&, const View2<T>&); \
  template void combine_backward<T>(const View2<T>&, const View2<T>&, const ExpertAssignment&, const View2<T>&, \
                                    const View2<T>&, const View2<T>&);                                          \
  template void dispatch_backward<T>(const View2<T>&, const ExpertAssignment&, const View2<T>&);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
