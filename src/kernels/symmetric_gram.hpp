// gram = X·Xᵀ, or Xᵀ·X when `transposed`, as the full symmetric matrix: one triangle from a
// rank-k update (BLAS syrk, half of a GEMM's work), then mirrored into the other. Newton–Schulz
// forms one such product per iteration.
#pragma once

#include "core/views.hpp"

namespace kmoe::kernels {

template <class T>
void symmetric_gram(const View2<T>& x, bool transposed, const View2<T>& gram);

}  // namespace kmoe::kernels
