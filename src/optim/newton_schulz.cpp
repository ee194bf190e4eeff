#include "optim/newton_schulz.hpp"

#include <algorithm>
#include <utility>

#include "core/error.hpp"
#include "core/kokkos_compat.hpp"
#include "kernels/batched_gemm.hpp"
#include "kernels/symmetric_gram.hpp"

namespace kmoe {

template <class T>
void NewtonSchulz<T>::ensure(int rows, int cols, int count) {
  const size_t small = static_cast<size_t>(std::min(rows, cols)), grams = small * small * count;
  if (gram_.extent(0) < grams) {
    gram_ = View1<T>("ns_gram", grams);
    gram_sq_ = View1<T>("ns_gram_sq", grams);
    poly_ = View1<T>("ns_poly", grams);
  }
  if (next_.extent(0) < size_t(rows) * cols * count) next_ = View1<T>("ns_next", size_t(rows) * cols * count);
  if (sum_sq_.extent(0) < size_t(count)) sum_sq_ = View1<double>("ns_sum_sq", count);
}

template <class T>
void NewtonSchulz<T>::run(const View2<T>& g, int steps, const View2<T>& out, kernels::Matmul matmul) {
  require(g.span_is_contiguous() && out.span_is_contiguous() && g.extent(0) == out.extent(0) &&
              g.extent(1) == out.extent(1),
          "NewtonSchulz: g and out must be contiguous and of one shape");
  run(g.data(), int(g.extent(0)), int(g.extent(1)), 1, steps, out.data(), matmul);
}

template <class T>
void NewtonSchulz<T>::run(const T* g, int rows, int cols, int count, int steps, T* out, kernels::Matmul matmul) {
  if (count <= 0) return;
  ensure(rows, cols, count);
  const bool tall = rows > cols;
  const int small = std::min(rows, cols);
  const T a = T(3.4445), b = T(-4.7750), c = T(2.0315);
  const size_t n = size_t(rows) * cols, total = n * count, small_n = size_t(small) * small;
  const auto sum_sq = sum_sq_;
  frobenius_sum_.each(
      "ns_frobenius", count, n, KOKKOS_LAMBDA(int e, size_t i) { return double(g[e * n + i]) * double(g[e * n + i]); },
      sum_sq);
  Kokkos::parallel_for(
      "ns_normalise", MatrixElements({0, 0}, {int64_t(count), int64_t(n)}), KOKKOS_LAMBDA(int64_t b, int64_t i) {
        const T scale = T(1.0 / (math::sqrt(sum_sq(b)) + 1e-7));
        out[b * n + i] = g[b * n + i] * scale;
      });
  T* gram = gram_.data();
  T* gram_sq = gram_sq_.data();
  T* poly = poly_.data();
  T* x = out;
  T* spare = next_.data();  // X and X_next swap each iteration
  const kernels::MatrixBatch update_batch{count, tall ? n : small_n, tall ? small_n : n, n, true};
  for (int step = 0; step < steps; ++step) {
    kernels::symmetric_gram_batched(x, rows, cols, tall, count, gram, matmul);  // Xᵀ X when tall, else X Xᵀ
    kernels::symmetric_gram_batched(gram, small, small, false, count, gram_sq, matmul);  // A² = A·Aᵀ: A is symmetric
    Kokkos::parallel_for(
        "ns_polynomial", Range(0, small_n * count),
        KOKKOS_LAMBDA(size_t i) { poly[i] = b * gram[i] + c * gram_sq[i]; });
    const T* x_now = x;
    Kokkos::parallel_for(
        "ns_copy", Range(0, total), KOKKOS_LAMBDA(size_t i) { spare[i] = x_now[i]; });
    if (tall) {  // a·X + X·B
      kernels::batched_gemm<T>(false, false, rows, cols, cols, T(1), x, cols, poly, cols, a, spare, cols, update_batch,
                               kernels::CausalPart::all, matmul);
    } else {  // a·X + B·X
      kernels::batched_gemm<T>(false, false, rows, cols, rows, T(1), poly, rows, x, cols, a, spare, cols, update_batch,
                               kernels::CausalPart::all, matmul);
    }
    std::swap(x, spare);
  }
  if (x != out) {
    const T* result = x;
    Kokkos::parallel_for(
        "ns_copy", Range(0, total), KOKKOS_LAMBDA(size_t i) { out[i] = result[i]; });
  }
}

template class NewtonSchulz<float>;
template class NewtonSchulz<double>;

}  // namespace kmoe
