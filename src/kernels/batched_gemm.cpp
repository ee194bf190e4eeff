#include "kernels/batched_gemm.hpp"

#include <KokkosKernels_config.h>

#include <algorithm>
#include <type_traits>

#include "core/error.hpp"
#include "core/kernel_census.hpp"
#include "core/views.hpp"
#include "kernels/bf16_operands.hpp"
#include "kernels/gemm_tiles.hpp"
#include "kernels/host_blas.hpp"

#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOSKERNELS_ENABLE_TPL_CUBLAS)
#include <KokkosBlas_tpl_spec.hpp>
#define KMOE_BATCHED_GEMM_CUBLAS 1
#endif

namespace kmoe::kernels {

namespace {

constexpr int kCausalRowBlock = 64;  // host task of a causal product: 64 rows of one entry (its scores stay in cache)

// The tile C[r0 : r0 + rows, c0 : c0 + cols] of C = alpha · op(A) · op(B) + beta · C: one
// single-threaded BLAS call on the rows of op(A) and the columns of op(B) it needs.
template <class T>
void host_tile(bool ta, bool tb, int r0, int rows, int c0, int cols, int k, T alpha, const T* a, int lda, const T* b,
               int ldb, T beta, T* c, int ldc) {
  host_gemm(ta, tb, rows, cols, k, alpha, ta ? a + r0 : a + size_t(r0) * lda, lda, tb ? b + size_t(c0) * ldb : b + c0,
            ldb, beta, c + size_t(r0) * ldc + c0, ldc);
}

// Rows [r0, r1) of one entry's causal C.
template <class T>
void causal_row_block(bool ta, bool tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta,
                      T* c, int ldc, CausalPart part, int r0, int r1) {
  const int rows = r1 - r0;
  switch (part) {
    case CausalPart::all:  // not causal: batched_gemm tiles it whole
      break;
    case CausalPart::lower_output:  // columns j < r1 only
      host_tile(ta, tb, r0, rows, 0, std::min(r1, n), k, alpha, a, lda, b, ldb, beta, c, ldc);
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
void cublas_gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const double* alpha, const double* a,
                 int lda, const double* b, int ldb, const double* beta, double* c, int ldc) {
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
// bf16 operands, fp32 compute and output.
void cublas_batched_bf16(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha,
                         const uint16_t* a, int lda, long long sa, const uint16_t* b, int ldb, long long sb,
                         const float* beta, float* c, int ldc, long long sc, int count) {
  auto& blas = KokkosBlas::Impl::CudaBlasSingleton::singleton();
  require(cublasGemmStridedBatchedEx(blas.handle, tb, ta, n, m, k, alpha, b, CUDA_R_16BF, ldb, sb, a, CUDA_R_16BF, lda,
                                     sa, beta, c, CUDA_R_32F, ldc, sc, count, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS,
          "cublasGemmStridedBatchedEx (bf16) failed");
}
#endif

// The elements `count` operands span, `stride` apart: op(X) is rows × cols, stored row-major
// with row stride ld, transposed when `trans` (0 when any extent is 0).
size_t operand_elements(bool trans, int rows, int cols, int ld, int count = 1, size_t stride = 0) {
  const int stored_rows = trans ? cols : rows, stored_cols = trans ? rows : cols;
  if (stored_rows <= 0 || stored_cols <= 0 || count <= 0) return 0;
  return size_t(count - 1) * stride + size_t(stored_rows - 1) * ld + stored_cols;
}

}  // namespace

template <class T>
void batched_gemm(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
                  T beta, T* c, int ldc, const MatrixBatch& batch, CausalPart part, Matmul matmul) {
  if (batch.count <= 0 || m <= 0 || n <= 0) return;
  count_blas_call();
  const bool causal_shape = part == CausalPart::all || (part == CausalPart::lower_output ? m == n : m == k && !trans_b);
  require(causal_shape, "batched_gemm: a causal part needs a square T×T output or triangular A (with op(B) = B)");
  const size_t a_elements = operand_elements(trans_a, m, k, lda, batch.count, batch.stride_a);
  const size_t b_elements = operand_elements(trans_b, k, n, ldb, batch.count, batch.stride_b);
#ifdef KMOE_BATCHED_GEMM_CUBLAS
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda> && std::is_same_v<T, float>) {
    if (matmul == Matmul::bf16) {
      cublas_batched_bf16(trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha,
                          bf16_operand(a, a_elements, OperandSlot::a), lda, batch.stride_a,
                          bf16_operand(b, b_elements, OperandSlot::b), ldb, batch.stride_b, &beta, c, ldc,
                          batch.stride_c, batch.count);
      return;
    }
  }
#endif
  if (matmul == Matmul::bf16) {
    a = rounded_operand(a, a_elements, OperandSlot::a);
    b = rounded_operand(b, b_elements, OperandSlot::b);
  }
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
  use_single_threaded_host_blas();
  if (part == CausalPart::all) {
    const GemmTiles tiles = gemm_tiles(m, n, k, batch.tiles_as_alone ? 1 : batch.count);
    const int row_tiles = tiles.row_tiles(m), col_tiles = tiles.col_tiles(n), per_entry = row_tiles * col_tiles;
    Kokkos::parallel_for("batched_gemm",
                         Kokkos::RangePolicy<HostExec, Kokkos::Schedule<Kokkos::Dynamic>>(0, batch.count * per_entry),
                         [&](int task) {
                           const int entry = task / per_entry, tile = task % per_entry;
                           const int r0 = (tile / col_tiles) * tiles.rows, c0 = (tile % col_tiles) * tiles.cols;
                           host_tile(trans_a, trans_b, r0, std::min(tiles.rows, m - r0), c0,
                                     std::min(tiles.cols, n - c0), k, alpha, a + entry * batch.stride_a, lda,
                                     b + entry * batch.stride_b, ldb, beta, c + entry * batch.stride_c, ldc);
                         });
    return;
  }
  const int blocks = (m + kCausalRowBlock - 1) / kCausalRowBlock;
  Kokkos::parallel_for("batched_gemm_causal", Kokkos::RangePolicy<HostExec>(0, batch.count * blocks), [&](int task) {
    const int entry = task / blocks, r0 = (task % blocks) * kCausalRowBlock, r1 = std::min(m, r0 + kCausalRowBlock);
    causal_row_block(trans_a, trans_b, m, n, k, alpha, a + entry * batch.stride_a, lda, b + entry * batch.stride_b, ldb,
                     beta, c + entry * batch.stride_c, ldc, part, r0, r1);
  });
}

namespace {

// The smallest range of memory holding every problem's A (or B) operand.
template <class T>
struct OperandRegion {
  const T* first = nullptr;
  size_t elements = 0;
};

template <class T>
OperandRegion<T> operand_region(const std::vector<GemmProblem<T>>& problems, bool of_a, bool trans, int ld) {
  const T* first = nullptr;
  const T* end = nullptr;
  for (const auto& p : problems) {
    const size_t n = of_a ? operand_elements(trans, p.m, p.k, ld) : operand_elements(trans, p.k, p.n, ld);
    if (n == 0) continue;
    const T* base = of_a ? p.a : p.b;
    if (!first || base < first) first = base;
    if (!end || base + n > end) end = base + n;
  }
  return {first, first ? size_t(end - first) : 0};
}

// The problems with their A and B read from rounded copies of the operand regions.
template <class T>
std::vector<GemmProblem<T>> with_rounded_operands(const std::vector<GemmProblem<T>>& problems, bool trans_a,
                                                  bool trans_b, int lda, int ldb) {
  const auto a_region = operand_region(problems, true, trans_a, lda);
  const auto b_region = operand_region(problems, false, trans_b, ldb);
  const T* a_copy = rounded_operand(a_region.first, a_region.elements, OperandSlot::a);
  const T* b_copy = rounded_operand(b_region.first, b_region.elements, OperandSlot::b);
  auto rounded = problems;
  for (auto& p : rounded) {
    p.a = a_copy + (p.a - a_region.first);
    p.b = b_copy + (p.b - b_region.first);
  }
  return rounded;
}

}  // namespace

template <class T>
void grouped_gemm(bool trans_a, bool trans_b, T alpha, int lda, int ldb, T beta, int ldc,
                  const std::vector<GemmProblem<T>>& problems_as_given, Matmul matmul) {
#ifdef KMOE_BATCHED_GEMM_CUBLAS
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
    const auto op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    if constexpr (std::is_same_v<T, float>) {
      if (matmul == Matmul::bf16) {
        const auto a_region = operand_region(problems_as_given, true, trans_a, lda);
        const auto b_region = operand_region(problems_as_given, false, trans_b, ldb);
        const uint16_t* a16 = bf16_operand(a_region.first, a_region.elements, OperandSlot::a);
        const uint16_t* b16 = bf16_operand(b_region.first, b_region.elements, OperandSlot::b);
        for (const auto& p : problems_as_given) {
          if (p.m > 0 && p.n > 0) {
            count_blas_call();
            cublas_batched_bf16(op_a, op_b, p.m, p.n, p.k, &alpha, a16 + (p.a - a_region.first), lda, 0,
                                b16 + (p.b - b_region.first), ldb, 0, &beta, p.c, ldc, 0, 1);
          }
        }
        return;
      }
    }
    for (const auto& p : problems_as_given) {
      if (p.m > 0 && p.n > 0) {
        count_blas_call();
        cublas_gemm(op_a, op_b, p.m, p.n, p.k, &alpha, p.a, lda, p.b, ldb, &beta, p.c, ldc);
      }
    }
    return;
  }
#endif
  const auto problems =
      matmul == Matmul::bf16 ? with_rounded_operands(problems_as_given, trans_a, trans_b, lda, ldb) : problems_as_given;
  require(Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace, MemSpace>::accessible,
          "grouped_gemm: no BLAS for this backend (build Kokkos Kernels with cuBLAS)");
  count_blas_call();
  use_single_threaded_host_blas();
  long total_rows = 0;
  for (const auto& p : problems) total_rows += p.m;
  const int row_block = group_row_block(total_rows);
  std::vector<std::pair<int, int>> tasks;  // (problem, first row)
  for (int i = 0; i < int(problems.size()); ++i) {
    for (int r0 = 0; r0 < problems[i].m; r0 += row_block) tasks.emplace_back(i, r0);
  }
  Kokkos::parallel_for(
      "grouped_gemm", Kokkos::RangePolicy<HostExec, Kokkos::Schedule<Kokkos::Dynamic>>(0, tasks.size()), [&](int task) {
        const auto [i, r0] = tasks[task];
        const auto& p = problems[i];
        host_tile(trans_a, trans_b, r0, std::min(p.m - r0, row_block), 0, p.n, p.k, alpha, p.a, lda, p.b, ldb, beta,
                  p.c, ldc);
      });
}

template void batched_gemm<float>(bool, bool, int, int, int, float, const float*, int, const float*, int, float, float*,
                                  int, const MatrixBatch&, CausalPart, Matmul);
template void batched_gemm<double>(bool, bool, int, int, int, double, const double*, int, const double*, int, double,
                                   double*, int, const MatrixBatch&, CausalPart, Matmul);
template void grouped_gemm<float>(bool, bool, float, int, int, float, int, const std::vector<GemmProblem<float>>&,
                                  Matmul);
template void grouped_gemm<double>(bool, bool, double, int, int, double, int, const std::vector<GemmProblem<double>>&,
                                   Matmul);

}  // namespace kmoe::kernels
