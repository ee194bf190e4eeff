#include "kernels/symmetric_gram.hpp"

#include "core/error.hpp"
#include "core/kernel_census.hpp"

#include <KokkosKernels_config.h>

#include <type_traits>

#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOSKERNELS_ENABLE_TPL_CUBLAS)
#include <KokkosBlas_tpl_spec.hpp>
#define KMOE_SYMMETRIC_GRAM_CUBLAS 1
#endif
#include <KokkosBlas_Host_tpl.hpp>

namespace kmoe::kernels {

namespace {

#ifdef KMOE_SYMMETRIC_GRAM_CUBLAS
cublasStatus_t cublas_syrk(cublasHandle_t h, cublasOperation_t op, int n, int k, const float* alpha, const float* a,
                           int lda, const float* beta, float* c, int ldc) {
  return cublasSsyrk(h, CUBLAS_FILL_MODE_UPPER, op, n, k, alpha, a, lda, beta, c, ldc);
}
cublasStatus_t cublas_syrk(cublasHandle_t h, cublasOperation_t op, int n, int k, const double* alpha,
                           const double* a, int lda, const double* beta, double* c, int ldc) {
  return cublasDsyrk(h, CUBLAS_FILL_MODE_UPPER, op, n, k, alpha, a, lda, beta, c, ldc);
}
#endif

}  // namespace

template <class T>
void symmetric_gram(const View2<T>& x, bool transposed, const View2<T>& gram) {
  const int rows = static_cast<int>(x.extent(0)), cols = static_cast<int>(x.extent(1));
  const int n = transposed ? cols : rows, k = transposed ? rows : cols;
  require(gram.extent(0) == size_t(n) && gram.extent(1) == size_t(n) && x.span_is_contiguous() &&
              gram.span_is_contiguous(),
          "symmetric_gram: gram must be a contiguous n×n matrix");
  count_blas_call();
  // Row-major X is the column-major M = Xᵀ (leading dimension cols): X·Xᵀ = Mᵀ·M, Xᵀ·X = M·Mᵀ.
  // The column-major upper triangle is the row-major lower one (row ≥ column).
  const T one = T(1), zero = T(0);
#ifdef KMOE_SYMMETRIC_GRAM_CUBLAS
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
    auto& blas = KokkosBlas::Impl::CudaBlasSingleton::singleton();
    require(cublas_syrk(blas.handle, transposed ? CUBLAS_OP_N : CUBLAS_OP_T, n, k, &one, x.data(), cols, &zero,
                        gram.data(), n) == CUBLAS_STATUS_SUCCESS,
            "cublas syrk failed");
  } else
#endif
  {
    KokkosBlas::Impl::HostBlas<T>::herk('U', transposed ? 'N' : 'T', n, k, one, x.data(), cols, zero, gram.data(), n);
  }
  Kokkos::parallel_for(
      "symmetric_gram_mirror", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {n, n}),
      KOKKOS_LAMBDA(int i, int j) {
        if (j > i) gram(i, j) = gram(j, i);
      });
}

template void symmetric_gram<float>(const View2<float>&, bool, const View2<float>&);
template void symmetric_gram<double>(const View2<double>&, bool, const View2<double>&);

}  // namespace kmoe::kernels
