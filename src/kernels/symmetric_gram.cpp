#include "kernels/symmetric_gram.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/kernel_census.hpp"
#include "kernels/bf16_operands.hpp"
#include "kernels/dense_gemm.hpp"
#include "kernels/gemm_tiles.hpp"
#include "kernels/host_blas.hpp"

namespace kmoe::kernels {

template <class T>
void symmetric_gram(const View2<T>& x, bool transposed, const View2<T>& gram, Matmul matmul) {
  const int rows = static_cast<int>(x.extent(0)), cols = static_cast<int>(x.extent(1));
  const int n = transposed ? cols : rows, k = transposed ? rows : cols;
  require(
      gram.extent(0) == size_t(n) && gram.extent(1) == size_t(n) && x.span_is_contiguous() && gram.span_is_contiguous(),
      "symmetric_gram: gram must be a contiguous n×n matrix");
  if constexpr (!Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace, MemSpace>::accessible) {
    // cuBLAS's syrk ran at under half the speed of its GEMM on an H100 (Muon's update went from
    // 89 to 162 ms), so a device takes the whole product.
    gemm<T>(transposed ? "T" : "N", transposed ? "N" : "T", T(1), x, x, T(0), gram, matmul);
  } else {
    count_blas_call();
    use_single_threaded_host_blas();
    const T* operand = matmul == Matmul::bf16 ? rounded_operand(x.data(), x.span(), OperandSlot::a) : x.data();
    // Lower-triangle tiles (block row ≥ block column), each one single-threaded BLAS call: a
    // rank-k update on the diagonal, a product below it. Row block I of X (column block when
    // transposed) is the operand X_I; tile (I, J) = X_I · X_Jᵀ.
    const int block = gram_block(n, k), blocks = (n + block - 1) / block;
    std::vector<std::pair<int, int>> tiles;
    for (int i = 0; i < blocks; ++i) {
      for (int j = 0; j <= i; ++j) tiles.emplace_back(i, j);
    }
    T* out = gram.data();
    Kokkos::parallel_for(
        "symmetric_gram", Kokkos::RangePolicy<HostExec, Kokkos::Schedule<Kokkos::Dynamic>>(0, tiles.size()),
        [&](int task) {
          const auto [i, j] = tiles[task];
          const int r0 = i * block, c0 = j * block, tile_rows = std::min(block, n - r0),
                    tile_cols = std::min(block, n - c0);
          const T* x_i = transposed ? operand + r0 : operand + size_t(r0) * cols;
          const T* x_j = transposed ? operand + c0 : operand + size_t(c0) * cols;
          T* c = out + size_t(r0) * n + c0;
          if (i == j) {
            host_syrk_lower(transposed, tile_rows, k, T(1), x_i, cols, T(0), c, n);
          } else {
            host_gemm(transposed, !transposed, tile_rows, tile_cols, k, T(1), x_i, cols, x_j, cols, T(0), c, n);
          }
        });
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
