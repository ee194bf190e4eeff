// The element-wise passes walk fixed chunks (32 elements, or 32 columns of a causal row): a
// whole chunk runs with a constant trip count, which the host compiler vectorises; only the
// last, partial one counts.
#pragma once

#include <Kokkos_Core.hpp>

namespace kmoe::kernels {

// Calls f(l) for l < count ≤ N.
template <int N, class F>
KOKKOS_INLINE_FUNCTION void for_chunk(int count, const F& f) {
  if (count == N) {
    for (int l = 0; l < N; ++l) f(l);
  } else {
    for (int l = 0; l < count; ++l) f(l);
  }
}

}  // namespace kmoe::kernels
