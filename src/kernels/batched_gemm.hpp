// Many equal-shaped products in one call: C_b = alpha · op(A_b) · op(B_b) + beta · C_b for
// b < count, each operand a row-major block at base + b · stride. On CUDA one cuBLAS
// strided-batched call; on the host the entries (split into row blocks) run in parallel, each
// a single-threaded BLAS call, so the result does not depend on the thread count.
//
// `part` lets causal attention skip the zero half of its T×T products on the host (the GPU
// computes them whole: the zeros make the result the same):
//   lower_output           only C[i, j ≤ i] is wanted (scores S = Q·Kᵀ, G = dO·Vᵀ);
//   lower_left             A is lower triangular, C = A · op(B) (P·V, dS·K);
//   lower_left_transposed  A is lower triangular, C = Aᵀ · op(B) (Pᵀ·dO, dSᵀ·Q).
#pragma once

#include <Kokkos_Macros.hpp>
#include <cstddef>
#include <vector>

#include "kernels/matmul_precision.hpp"

namespace kmoe::kernels {

enum class CausalPart { all, lower_output, lower_left, lower_left_transposed };

struct MatrixBatch {
  int count;
  size_t stride_a, stride_b, stride_c;
  // Host: cut each entry into the tiles it gets alone (its bits are a lone product's), instead of
  // fewer, larger tiles per entry when the batch alone keeps the threads busy.
  bool tiles_as_alone = false;
};

// Row-major: op(A) is m×k (A is k×m when trans_a), op(B) is k×n, C is m×n; ld* are row strides.
// `matmul` is the operands' precision (C is accumulated and written in T either way).
template <class T>
void batched_gemm(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
                  T beta, T* c, int ldc, const MatrixBatch& batch, CausalPart part = CausalPart::all,
                  Matmul matmul = Matmul::fp32);

// One product of a group: C = alpha · op(A) · op(B) + beta · C with its own sizes and operands.
template <class T>
struct GemmProblem {
  int m, n, k;
  const T* a;
  const T* b;
  T* c;
};

// Products of different sizes in one call (the experts of a layer). On the host their row
// blocks run in parallel, each a single-threaded BLAS call: blocks as large as still give every
// thread about four (each block repacks its B operand), at least 256 rows. On CUDA each product
// is one cuBLAS call, queued without a synchronisation (a grouped cuBLAS call is still to come:
// kGroupedGemmIsOneCall says which).
#if defined(KOKKOS_ENABLE_CUDA)
constexpr bool kGroupedGemmIsOneCall = false;
#else
constexpr bool kGroupedGemmIsOneCall = true;
#endif

template <class T>
void grouped_gemm(bool trans_a, bool trans_b, T alpha, int lda, int ldb, T beta, int ldc,
                  const std::vector<GemmProblem<T>>& problems, Matmul matmul = Matmul::fp32);

}  // namespace kmoe::kernels
