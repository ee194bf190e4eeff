#include "kernels/expert_choice.hpp"

#include <algorithm>
#include <cmath>

namespace kmoe::kernels {

int expert_choice_capacity(double factor, int group_tokens, int k, int experts) {
  const int capacity = static_cast<int>(std::ceil(factor * group_tokens * k / experts));
  return std::min(std::max(capacity, 1), group_tokens);
}

template <class T>
void choose_tokens(const View2<T>& scores, int group_tokens, int capacity, ExpertAssignment& assignment) {
  const int tokens = static_cast<int>(scores.extent(0)), E = static_cast<int>(scores.extent(1));
  const int groups = tokens / group_tokens, rows_per_expert = groups * capacity;
  assignment.k = E;
  assignment.capacity = rows_per_expert;
  const auto offsets = assignment.offsets, order = assignment.order, slot_of = assignment.slot_of;
  Kokkos::parallel_for(
      "expert_choice_offsets", Range(0, E + 1), KOKKOS_LAMBDA(int e) { offsets(e) = e * rows_per_expert; });
  // A token's rank among its group for expert e: the tokens ahead of it (higher score, or equal
  // and earlier). Ranks are a permutation of the group, so the kept rows are filled exactly.
  Kokkos::parallel_for(
      "choose_tokens", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {tokens, E}),
      KOKKOS_LAMBDA(int n, int e) {
        const int g = n / group_tokens, first = g * group_tokens;
        const T score = scores(n, e);
        int rank = 0;
        for (int m = first; m < first + group_tokens; ++m) {
          const T other = scores(m, e);
          rank += other > score || (other == score && m < n);
        }
        const int a = n * E + e;
        if (rank < capacity) {
          const int row = e * rows_per_expert + g * capacity + rank;
          order(row) = a;
          slot_of(a) = row;
        } else {
          slot_of(a) = -1;
        }
      });
}

template void choose_tokens<float>(const View2<float>&, int, int, ExpertAssignment&);
template void choose_tokens<double>(const View2<double>&, int, int, ExpertAssignment&);

}  // namespace kmoe::kernels
