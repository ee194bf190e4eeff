// gram = X·Xᵀ, or Xᵀ·X when `transposed`, as the full symmetric matrix. On the host one
// triangle comes from a rank-k update (BLAS syrk, half of a GEMM's work) and is mirrored into
// the other; on a GPU cuBLAS's GEMM is faster than its syrk. Newton–Schulz forms one such
// product per iteration.
#pragma once

#include "core/views.hpp"

namespace kmoe::kernels {

template <class T>
void symmetric_gram(const View2<T>& x, bool transposed, const View2<T>& gram);

}  // namespace kmoe::kernels
