#include "optim/newton_schulz.hpp"

#include <algorithm>
#include <utility>

#include "core/error.hpp"
#include "core/kokkos_compat.hpp"
#include "kernels/dense_gemm.hpp"
#include "kernels/symmetric_gram.hpp"

namespace kmoe {

namespace {
template <class T>
View2<T> as_matrix(const View1<T>& storage, int rows, int cols) {
  return View2<T>(storage.data(), rows, cols);
}
}  // namespace

template <class T>
NewtonSchulz<T>::NewtonSchulz(int max_small) {
  ensure(max_small, max_small);
}

template <class T>
void NewtonSchulz<T>::ensure(int rows, int cols) {
  const size_t small = static_cast<size_t>(std::min(rows, cols));
  if (gram_.extent(0) < small * small) {
    gram_ = View1<T>("ns_gram", small * small);
    gram_sq_ = View1<T>("ns_gram_sq", small * small);
    poly_ = View1<T>("ns_poly", small * small);
  }
  if (next_.extent(0) < static_cast<size_t>(rows) * cols) next_ = View1<T>("ns_next", size_t(rows) * cols);
}

template <class T>
void NewtonSchulz<T>::run(const View2<T>& g, int steps, const View2<T>& out, kernels::Matmul matmul) {
  const int rows = static_cast<int>(g.extent(0)), cols = static_cast<int>(g.extent(1));
  ensure(rows, cols);
  const bool tall = rows > cols;
  const int small = std::min(rows, cols);
  const T a = T(3.4445), b = T(-4.7750), c = T(2.0315);
  require(g.span_is_contiguous() && out.span_is_contiguous(), "NewtonSchulz: g and out must be contiguous");
  const size_t n = size_t(rows) * cols;
  const T* g_flat = g.data();
  T* out_flat = out.data();
  const double sum_sq = frobenius_sum_(
      "ns_frobenius", n, KOKKOS_LAMBDA(size_t i) { return double(g_flat[i]) * double(g_flat[i]); });
  const T scale = T(1.0 / (std::sqrt(sum_sq) + 1e-7));
  Kokkos::parallel_for(
      "ns_normalise", Range(0, n), KOKKOS_LAMBDA(size_t i) { out_flat[i] = g_flat[i] * scale; });
  const View2<T> gram = as_matrix(gram_, small, small), gram_sq = as_matrix(gram_sq_, small, small),
                 poly = as_matrix(poly_, small, small);
  const size_t small_n = size_t(small) * small;
  const T* gram_flat = gram.data();
  const T* gram_sq_flat = gram_sq.data();
  T* poly_flat = poly.data();
  View2<T> x = out, spare = as_matrix(next_, rows, cols);  // X and X_next swap each iteration
  for (int step = 0; step < steps; ++step) {
    kernels::symmetric_gram(x, tall, gram, matmul);         // Xᵀ X when tall, else X Xᵀ
    kernels::symmetric_gram(gram, false, gram_sq, matmul);  // A² = A·Aᵀ: A is symmetric
    Kokkos::parallel_for(
        "ns_polynomial", Range(0, small_n),
        KOKKOS_LAMBDA(size_t i) { poly_flat[i] = b * gram_flat[i] + c * gram_sq_flat[i]; });
    Kokkos::deep_copy(spare, x);
    if (tall) {
      kernels::gemm<T>("N", "N", T(1), x, poly, a, spare, matmul);  // a·X + X·B
    } else {
      kernels::gemm<T>("N", "N", T(1), poly, x, a, spare, matmul);  // a·X + B·X
    }
    std::swap(x, spare);
  }
  if (x.data() != out.data()) Kokkos::deep_copy(out, x);
}

template class NewtonSchulz<float>;
template class NewtonSchulz<double>;

}  // namespace kmoe
