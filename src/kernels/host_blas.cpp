#include "kernels/host_blas.hpp"

#include <dlfcn.h>

#include <KokkosBlas_Host_tpl.hpp>
#include <mutex>

#include "core/views.hpp"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace kmoe::kernels {

namespace {

using SetThreads = void (*)(int);
using Describe = char* (*)();

// OpenBLAS's functions, looked up at run time: kmoe links whatever BLAS Kokkos Kernels was built on.
template <class Function>
Function openblas_function(const char* name) {
  return reinterpret_cast<Function>(dlsym(RTLD_DEFAULT, name));
}

}  // namespace

bool set_host_blas_threads(int threads) {
  const auto set = openblas_function<SetThreads>("openblas_set_num_threads");
  if (!set) return false;
#ifdef _OPENMP
  // OpenBLAS's OpenMP build also sets the OpenMP thread count; kmoe's threads are not its business.
  const int openmp_threads = omp_get_max_threads();
  set(threads);
  omp_set_num_threads(openmp_threads);
#else
  set(threads);
#endif
  return true;
}

std::string matrix_product_library() {
  if (!Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace, MemSpace>::accessible) return "cuBLAS";
  const auto config = openblas_function<Describe>("openblas_get_config");
  const auto core = openblas_function<Describe>("openblas_get_corename");
  if (!config || !core) return "not OpenBLAS (its own threading: results may depend on the thread count)";
  return std::string(config()) + ", core " + core();
}

void use_single_threaded_host_blas() {
  static std::once_flag once;
  std::call_once(once, [] { set_host_blas_threads(1); });
}

// Row-major through the column-major BLAS: Cᵀ = op(B)ᵀ · op(A)ᵀ.
template <class T>
void host_gemm(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
               T beta, T* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  KokkosBlas::Impl::HostBlas<T>::gemm(trans_b ? 'T' : 'N', trans_a ? 'T' : 'N', n, m, k, alpha, b, ldb, a, lda, beta, c,
                                      ldc);
}

// Row-major X is the column-major M = Xᵀ (leading dimension ldx): X·Xᵀ = Mᵀ·M, Xᵀ·X = M·Mᵀ, and
// the column-major upper triangle is the row-major lower one.
template <class T>
void host_syrk_lower(bool transposed, int n, int k, T alpha, const T* x, int ldx, T beta, T* c, int ldc) {
  if (n <= 0) return;
  KokkosBlas::Impl::HostBlas<T>::herk('U', transposed ? 'N' : 'T', n, k, alpha, x, ldx, beta, c, ldc);
}

template void host_gemm<float>(bool, bool, int, int, int, float, const float*, int, const float*, int, float, float*,
                               int);
template void host_gemm<double>(bool, bool, int, int, int, double, const double*, int, const double*, int, double,
                                double*, int);
template void host_syrk_lower<float>(bool, int, int, float, const float*, int, float, float*, int);
template void host_syrk_lower<double>(bool, int, int, double, const double*, int, double, double*, int);

}  // namespace kmoe::kernels
