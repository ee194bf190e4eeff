#include "kernels/symmetric_gram.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/kernel_census.hpp"
#include "kernels/batched_gemm.hpp"
#include "kernels/bf16_operands.hpp"
#include "kernels/gemm_tiles.hpp"
#include "kernels/host_blas.hpp"

namespace kmoe::kernels {

template <class T>
void symmetric_gram(const View2<T>& x, bool transposed, const View2<T>& gram, Matmul matmul) {
  const int rows = static_cast<int>(x.extent(0)), cols = static_cast<int>(x.extent(1));
  const int n = transposed ? cols : rows;
  require(
      gram.extent(0) == size_t(n) && gram.extent(1) == size_t(n) && x.span_is_contiguous() && gram.span_is_contiguous(),
      "symmetric_gram: gram must be a contiguous n×n matrix");
  symmetric_gram_batched(x.data(), rows, cols, transposed, 1, gram.data(), matmul);
}

template <class T>
void symmetric_gram_batched(const T* x, int rows, int cols, bool transposed, int count, T* gram, Matmul matmul) {
  const int n = transposed ? cols : rows, k = transposed ? rows : cols;
  if (count <= 0 || n <= 0) return;
  const size_t x_size = size_t(rows) * cols, gram_size = size_t(n) * n;
  if constexpr (!Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace, MemSpace>::accessible) {
    // cuBLAS's syrk ran at under half the speed of its GEMM on an H100 (Muon's update went from
    // 89 to 162 ms), so a device takes the whole product.
    batched_gemm<T>(transposed, !transposed, n, n, k, T(1), x, cols, x, cols, T(0), gram, n,
                    {count, x_size, x_size, gram_size}, CausalPart::all, matmul);
  } else {
    count_blas_call();
    use_single_threaded_host_blas();
    const T* operand = matmul == Matmul::bf16 ? rounded_operand(x, x_size * count, OperandSlot::a) : x;
    // Lower-triangle tiles (block row ≥ block column) of every entry, each one single-threaded
    // BLAS call: a rank-k update on the diagonal, a product below it. Row block I of X (column
    // block when transposed) is the operand X_I; tile (I, J) = X_I · X_Jᵀ.
    const int block = gram_block(n, k), blocks = (n + block - 1) / block;
    std::vector<std::pair<int, int>> tiles;
    for (int i = 0; i < blocks; ++i) {
      for (int j = 0; j <= i; ++j) tiles.emplace_back(i, j);
    }
    const int per_entry = static_cast<int>(tiles.size());
    Kokkos::parallel_for(
        "symmetric_gram", Kokkos::RangePolicy<HostExec, Kokkos::Schedule<Kokkos::Dynamic>>(0, count * per_entry),
        [&](int task) {
          const auto [i, j] = tiles[task % per_entry];
          const T* entry = operand + size_t(task / per_entry) * x_size;
          T* out = gram + size_t(task / per_entry) * gram_size;
          const int r0 = i * block, c0 = j * block, tile_rows = std::min(block, n - r0),
                    tile_cols = std::min(block, n - c0);
          const T* x_i = transposed ? entry + r0 : entry + size_t(r0) * cols;
          const T* x_j = transposed ? entry + c0 : entry + size_t(c0) * cols;
          T* c = out + size_t(r0) * n + c0;
          if (i == j) {
            host_syrk_lower(transposed, tile_rows, k, T(1), x_i, cols, T(0), c, n);
          } else {
            host_gemm(transposed, !transposed, tile_rows, tile_cols, k, T(1), x_i, cols, x_j, cols, T(0), c, n);
          }
        });
    Kokkos::parallel_for(
        "symmetric_gram_mirror", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<3>>({0, 0, 0}, {count, n, n}),
        KOKKOS_LAMBDA(int b, int i, int j) {
          T* entry = gram + size_t(b) * gram_size;
          if (j > i) entry[size_t(i) * n + j] = entry[size_t(j) * n + i];
        });
  }
}

#define KMOE_INSTANTIATE(T)                                                        \
  template void symmetric_gram<T>(const View2<T>&, bool, const View2<T>&, Matmul); \
  template void symmetric_gram_batched<T>(const T*, int, int, bool, int, T*, Matmul);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
