// gram = X·Xᵀ, or Xᵀ·X when `transposed`, as the full symmetric matrix. On the host one
// triangle comes from a rank-k update (BLAS syrk, half of a GEMM's work) and is mirrored into
// the other; on a GPU cuBLAS's GEMM is faster than its syrk. Newton–Schulz forms one such
// product per iteration for every Muon matrix of a shape at once (the batched form).
#pragma once

#include "core/views.hpp"
#include "kernels/matmul_precision.hpp"

namespace kmoe::kernels {

// `matmul`: X's precision as an operand (bf16: rounded first).
template <class T>
void symmetric_gram(const View2<T>& x, bool transposed, const View2<T>& gram, Matmul matmul = Matmul::fp32);

// `count` products at once: X_b (rows × cols, row-major) at x + b·rows·cols, its n×n gram at
// gram + b·n·n. Each entry is cut into the tiles it gets alone, so its bits are those of
// symmetric_gram on it.
template <class T>
void symmetric_gram_batched(const T* x, int rows, int cols, bool transposed, int count, T* gram,
                            Matmul matmul = Matmul::fp32);

}  // namespace kmoe::kernels
