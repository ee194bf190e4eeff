// The host BLAS as kmoe uses it: every call single-threaded, on row-major operands. kmoe splits
// each product into tiles itself (kernels/gemm_tiles.hpp) and runs the tiles on its own threads,
// so an output element is computed by the same instruction sequence whatever the thread count.
// A BLAS that threads its own calls does not promise that: OpenBLAS's Haswell and Zen sgemm and
// ssyrk kernels give different bits on 1 and 2 threads (docs/blas-determinism.md).
#pragma once

#include <string>

namespace kmoe::kernels {

// Makes the BLAS run each call on the calling thread (OpenBLAS: openblas_set_num_threads(1),
// leaving the OpenMP thread count as it was). Idempotent; the host products call it first.
void use_single_threaded_host_blas();

// The BLAS's own thread count, for benchmarks that time its threaded calls as a baseline
// (kmoe's products need 1 again afterwards). False when the BLAS offers no such control.
bool set_host_blas_threads(int threads);

// The library the model's products run on and, for the host BLAS, the kernels it picked for this
// CPU, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64, core Haswell"
// (OPENBLAS_CORETYPE chooses others). For the record: a run's bits depend on it.
std::string matrix_product_library();

// C = alpha · op(A) · op(B) + beta · C, row-major: op(A) is m×k, op(B) k×n, C m×n.
template <class T>
void host_gemm(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
               T beta, T* c, int ldc);

// The lower triangle (row ≥ column) of C = alpha · X·Xᵀ + beta · C, or of Xᵀ·X when
// `transposed`; row-major X is n×k (k×n when transposed), C n×n.
template <class T>
void host_syrk_lower(bool transposed, int n, int k, T alpha, const T* x, int ldx, T beta, T* c, int ldc);

}  // namespace kmoe::kernels
