#include "kernels/batched_gemm.hpp"

#include "core/error.hpp"
#include "core/kernel_census.hpp"
#include "core/views.hpp"

#include <KokkosKernels_config.h>

#include <algorithm>
#include <type_traits>

#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOSKERNELS_ENABLE_TPL_CUBLAS)
#include <KokkosBlas_tpl_spec.hpp>
#define KMOE_BATCHED_GEMM_CUBLAS 1
#endif
#include <KokkosBlas_Host_tpl.hpp>

namespace kmoe::kernels {

namespace {

constexpr int kRowBlock = 64;  // host task of a batched product: 64 rows of one entry

// Host tasks run here: the model's execution space where it is the host (the Serial variant
// stays serial), else the default host space.
using HostExec = std::conditional_t<Kokkos::SpaceAccessibility<ExecSpace, HostSpace>::accessible, ExecSpace,
                                    Kokkos::DefaultHostExecutionSpace>;

// Row-major product through the column-major BLAS: Cᵀ = op(B)ᵀ · op(A)ᵀ.
template <class T>
void host_gemm(bool ta, bool tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta, T* c,
               int ldc) {
  if (m <= 0 || n <= 0) return;
  KokkosBlas::Impl::HostBlas<T>::gemm(tb ? 'T' : 'N', ta ? 'T' : 'N', n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
}

// Rows [r0, r1) of one entry's C.
template <class T>
void host_row_block(bool ta, bool tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta,
                    T* c, int ldc, CausalPart part, int r0, int r1) {
  const int rows = r1 - r0;
  switch (part) {
    case CausalPart::all:
      host_gemm(ta, tb, rows, n, k, alpha, ta ? a + r0 : a + size_t(r0) * lda, lda, b, ldb, beta,
                c + size_t(r0) * ldc, ldc);
      break;
    case CausalPart::lower_output:  // columns j < r1 only
      host_gemm(ta, tb, rows, std::min(r1, n), k, alpha, ta ? a + r0 : a + size_t(r0) * lda, lda, b, ldb, beta,
                c + size_t(r0) * ldc, ldc);
      break;
    case CausalPart::lower_left:  // A[r0:r1, 0:r1] · B[0:r1, :]
      host_gemm(false, tb, rows, n, r1, alpha, a + size_t(r0) * lda, lda, b, ldb, beta, c + size_t(r0) * ldc, ldc);
      break;
    case CausalPart::lower_left_transposed:  // A[r0:m, r0:r1]ᵀ · B[r0:m, :]
      host_gemm(true, tb, rows, n, m - r0, alpha, a + size_t(r0) * lda + r0, lda, b + size_t(r0) * ldb, ldb, beta,
                c + size_t(r0) * ldc, ldc);
      break;
  }
}

#ifdef KMOE_BATCHED_GEMM_CUBLAS
void cublas_gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha, const float* a,
                 int lda, const float* b, int ldb, const float* beta, float* c, int ldc) {
  auto& blas = KokkosBlas::Impl::CudaBlasSingleton::singleton();
  require(cublasSgemm(blas.handle, tb, ta, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc) == CUBLAS_STATUS_SUCCESS,
          "cublasSgemm failed");
}
void cublas_gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const double* alpha,
                 const double* a, int lda, const double* b, int ldb, const double* beta, double* c, int ldc) {
  auto& blas = KokkosBlas::Impl::CudaBlasSingleton::singleton();
  require(cublasDgemm(blas.handle, tb, ta, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc) == CUBLAS_STATUS_SUCCESS,
          "cublasDgemm failed");
}
void cublas_batched(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha, const float* a,
                    int lda, long long sa, const float* b, int ldb, long long sb, const float* beta, float* c, int ldc,
                    long long sc, int count) {
  auto& blas = KokkosBlas::Impl::CudaBlasSingleton::singleton();
  require(cublasSgemmStridedBatched(blas.handle, tb, ta, n, m, k, alpha, b, ldb, sb, a, lda, sa, beta, c, ldc, sc,
                                    count) == CUBLAS_STATUS_SUCCESS,
          "cublasSgemmStridedBatched failed");
}
void cublas_batched(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const double* alpha,
                    const double* a, int lda, long long sa, const double* b, int ldb, long long sb, const double* beta,
                    double* c, int ldc, long long sc, int count) {
  auto& blas = KokkosBlas::Impl::CudaBlasSingleton::singleton();
  require(cublasDgemmStridedBatched(blas.handle, tb, ta, n, m, k, alpha, b, ldb, sb, a, lda, sa, beta, c, ldc, sc,
                                    count) == CUBLAS_STATUS_SUCCESS,
          "cublasDgemmStridedBatched failed");
}
#endif

}  // namespace

template <class T>
void batched_gemm(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
                  T beta, T* c, int ldc, const MatrixBatch& batch, CausalPart part) {
  if (batch.count <= 0 || m <= 0 || n <= 0) return;
  count_blas_call();
  const bool causal_shape = part == CausalPart::all || (part == CausalPart::lower_output ? m == n : m == k && !trans_b);
  require(causal_shape, "batched_gemm: a causal part needs a square T×T output or triangular A (with op(B) = B)");
#ifdef KMOE_BATCHED_GEMM_CUBLAS
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
    // The zeros above the diagonal make the whole product equal to the causal one.
    cublas_batched(trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, a, lda,
                   batch.stride_a, b, ldb, batch.stride_b, &beta, c, ldc, batch.stride_c, batch.count);
    return;
  }
#endif
  require(Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace, MemSpace>::accessible,
          "batched_gemm: no batched BLAS for this backend (build Kokkos Kernels with cuBLAS)");
  const int blocks = (m + kRowBlock - 1) / kRowBlock;
  Kokkos::parallel_for(
      "batched_gemm", Kokkos::RangePolicy<HostExec>(0, batch.count * blocks), [&](int task) {
        const int entry = task / blocks, r0 = (task % blocks) * kRowBlock, r1 = std::min(m, r0 + kRowBlock);
        host_row_block(trans_a, trans_b, m, n, k, alpha, a + entry * batch.stride_a, lda, b + entry * batch.stride_b,
                       ldb, beta, c + entry * batch.stride_c, ldc, part, r0, r1);
      });
}

template <class T>
void grouped_gemm(bool trans_a, bool trans_b, T alpha, int lda, int ldb, T beta, int ldc,
                  const std::vector<GemmProblem<T>>& problems) {
  count_blas_call();
#ifdef KMOE_BATCHED_GEMM_CUBLAS
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
    for (const auto& p : problems) {
      if (p.m > 0 && p.n > 0) {
        cublas_gemm(trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, p.m, p.n, p.k, &alpha,
                    p.a, lda, p.b, ldb, &beta, p.c, ldc);
      }
    }
    return;
  }
#endif
  require(Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace, MemSpace>::accessible,
          "grouped_gemm: no BLAS for this backend (build Kokkos Kernels with cuBLAS)");
  long total_rows = 0;
  for (const auto& p : problems) total_rows += p.m;
  const int row_block = int(std::max(256L, total_rows / (4L * HostExec().concurrency())));
  std::vector<std::pair<int, int>> tasks;  // (problem, first row)
  for (int i = 0; i < int(problems.size()); ++i) {
    for (int r0 = 0; r0 < problems[i].m; r0 += row_block) tasks.emplace_back(i, r0);
  }
  Kokkos::parallel_for("grouped_gemm", Kokkos::RangePolicy<HostExec>(0, tasks.size()), [&](int task) {
    const auto [i, r0] = tasks[task];
    const auto& p = problems[i];
    host_row_block(trans_a, trans_b, p.m, p.n, p.k, alpha, p.a, lda, p.b, ldb, beta, p.c, ldc, CausalPart::all, r0,
                   std::min(p.m, r0 + row_block));
  });
}

template void batched_gemm<float>(bool, bool, int, int, int, float, const float*, int, const float*, int, float, float*,
                                  int, const MatrixBatch&, CausalPart);
template void batched_gemm<double>(bool, bool, int, int, int, double, const double*, int, const double*, int, double,
                                   double*, int, const MatrixBatch&, CausalPart);
template void grouped_gemm<float>(bool, bool, float, int, int, float, int, const std::vector<GemmProblem<float>>&);
template void grouped_gemm<double>(bool, bool, double, int, int, double, int,
                                   const std::vector<GemmProblem<double>>&);

}  // namespace kmoe::kernels
