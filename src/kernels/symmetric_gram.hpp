// gram = X·Xᵀ, or Xᵀ·X when `transposed`, as the full symmetric matrix. On the host one
// triangle comes from a rank-k update (BLAS syrk, half of a GEMM's work) and is mirrored into
// the other; on a GPU cuBLAS's GEMM is faster than its syrk. Newton–Schulz forms one such
// product per iteration.
#pragma once

#include "core/views.hpp"
#include "kernels/matmul_precision.hpp"

namespace kmoe::kernels {

// `matmul`: X's precision as an operand (bf16: rounded first).
template <class T>
void symmetric_gram(const View2<T>& x, bool transposed, const View2<T>& gram, Matmul matmul = Matmul::fp32);

}  // namespace kmoe::kernels
