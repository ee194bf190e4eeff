#include "kernels/symmetric_gram.hpp"

#include "core/error.hpp"
#include "core/kernel_census.hpp"
#include "kernels/bf16_operands.hpp"
#include "kernels/dense_gemm.hpp"

#include <KokkosBlas_Host_tpl.hpp>

namespace kmoe::kernels {

template <class T>
void symmetric_gram(const View2<T>& x, bool transposed, const View2<T>& gram, Matmul matmul) {
  const int rows = static_cast<int>(x.extent(0)), cols = static_cast<int>(x.extent(1));
  const int n = transposed ? cols : rows, k = transposed ? rows : cols;
  require(gram.extent(0) == size_t(n) && gram.extent(1) == size_t(n) && x.span_is_contiguous() &&
              gram.span_is_contiguous(),
          "symmetric_gram: gram must be a contiguous n×n matrix");
  if constexpr (!Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace, MemSpace>::accessible) {
    // cuBLAS's syrk ran at under half the speed of its GEMM on an H100 (Muon's update went from
    // 89 to 162 ms), so a device takes the whole product.
    gemm<T>(transposed ? "T" : "N", transposed ? "N" : "T", T(1), x, x, T(0), gram, matmul);
  } else {
    count_blas_call();
    // Row-major X is the column-major M = Xᵀ (leading dimension cols): X·Xᵀ = Mᵀ·M, Xᵀ·X = M·Mᵀ.
    // The column-major upper triangle is the row-major lower one (row ≥ column).
    const T* operand = matmul == Matmul::bf16 ? rounded_operand(x.data(), x.span(), OperandSlot::a) : x.data();
    KokkosBlas::Impl::HostBlas<T>::herk('U', transposed ? 'N' : 'T', n, k, T(1), operand, cols, T(0), gram.data(), n);
    Kokkos::parallel_for(
        "symmetric_gram_mirror", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {n, n}),
        KOKKOS_LAMBDA(int i, int j) {
          if (j > i) gram(i, j) = gram(j, i);
        });
  }
}

template void symmetric_gram<float>(const View2<float>&, bool, const View2<float>&, Matmul);
template void symmetric_gram<double>(const View2<double>&, bool, const View2<double>&, Matmul);

}  // namespace kmoe::kernels
