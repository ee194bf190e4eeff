// Moving tokens to experts and back. Assignment a = n·k + s is (token n, slot s). Assignments
// are grouped by expert (group_by_key on the top-k indices), so expert e's rows are the
// contiguous slice [offsets[e], offsets[e+1]) of the grouped buffers and its GEMMs run on
// that slice. With a capacity, only the first `capacity` rows of each slice are kept; a
// dropped assignment contributes nothing (the token keeps only its residual path).
#pragma once

#include "core/views.hpp"
#include "kernels/token_grouping.hpp"

namespace kmoe::kernels {

// The rows an expert keeps of the assignments it was given (capacity 0 = no capacity).
KOKKOS_INLINE_FUNCTION int kept_rows(int assigned, int capacity) {
  return capacity > 0 && assigned > capacity ? capacity : assigned;
}

// Where the assignments went, passed whole to the kernels that move rows (as Cabana's
// BinningData): expert e's rows are [offsets[e], offsets[e+1]) of the grouped buffers, of which
// it keeps the first `capacity`.
struct ExpertAssignment {
  View1<int> offsets;  // [experts + 1]
  View1<int> order;    // [rows] grouped row → assignment a = n·k + s
  View1<int> slot_of;  // [assignments] assignment → grouped row, −1 when dropped
  int k = 1;           // slots per token
  int capacity = 0;    // rows an expert keeps (0 = no capacity)

  ExpertAssignment() = default;
  // rows = assignments, except for expert choice (experts × their capacity).
  ExpertAssignment(int experts, int rows, int assignments, int k);
  // The same buffers for fewer rows and assignments.
  ExpertAssignment first_assignments(int rows, int assignments) const;
};

// Groups the assignments by expert (expert_of[a], stable) and gives each its grouped row.
void assign_experts(const View1<int>& expert_of, int capacity, ExpertAssignment& assignment,
                    KeyGroupingWorkspace& workspace);
// slot_of[a] = grouped row of assignment a, or −1 if dropped, from offsets, order and capacity.
void assign_slots(const ExpertAssignment& assignment);
// The assignments a capacity drops, from the expert offsets on the host.
template <class Offsets>
int64_t dropped_assignments(const Offsets& host_offsets, int experts, int capacity) {
  int64_t dropped = 0;
  for (int e = 0; e < experts; ++e) {
    const int assigned = int(host_offsets(e + 1) - host_offsets(e));
    dropped += assigned - kept_rows(assigned, capacity);
  }
  return dropped;
}

// summary(at) = the tokens none of whose assignments was kept (dropped by capacity, or taken by no
// expert under expert choice: flaxformer's tokens left behind); written on the device, no wait.
void count_unrouted_tokens(const ExpertAssignment& assignment, const View1<double>& summary, int at);

// grouped[row, :] = x[order[row] / k, :]
template <class T>
void dispatch_forward(const View2<T>& x, const ExpertAssignment& assignment, const View2<T>& grouped);

// Its backward: dx[n, :] += Σ_s dgrouped[slot_of[n·k + s], :]
template <class T>
void dispatch_backward(const View2<T>& dgrouped, const ExpertAssignment& assignment, const View2<T>& dx);

// out[n, :] = Σ_s gates[n, s] · expert_out[slot_of[n·k + s], :]   (overwrites out)
template <class T>
void combine_forward(const View2<T>& expert_out, const View2<T>& gates, const ExpertAssignment& assignment,
                     const View2<T>& out);

// Backward of combine: dgates[n, s] = dout[n]·expert_out[slot]; dexpert_out[slot] = gates[n, s]·dout[n].
template <class T>
void combine_backward(const View2<T>& expert_out, const View2<T>& gates, const ExpertAssignment& assignment,
                      const View2<T>& dout, const View2<T>& dgates, const View2<T>& dexpert_out);

}  // namespace kmoe::kernels
