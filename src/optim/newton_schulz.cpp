#include "optim/newton_schulz.hpp"

#include "core/kokkos_compat.hpp"
#include "kernels/dense_gemm.hpp"
#include "kernels/symmetric_gram.hpp"

#include <algorithm>

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
  double sum_sq = 0;
  Kokkos::parallel_reduce(
      "ns_frobenius", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {rows, cols}),
      KOKKOS_LAMBDA(int i, int j, double& acc) { acc += double(g(i, j)) * double(g(i, j)); }, sum_sq);
  const T scale = T(1.0 / (std::sqrt(sum_sq) + 1e-7));
  Kokkos::parallel_for(
      "ns_normalise", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {rows, cols}),
      KOKKOS_LAMBDA(int i, int j) { out(i, j) = g(i, j) * scale; });
  const View2<T> gram = as_matrix(gram_, small, small), gram_sq = as_matrix(gram_sq_, small, small),
                 poly = as_matrix(poly_, small, small), next = as_matrix(next_, rows, cols);
  for (int step = 0; step < steps; ++step) {
    kernels::symmetric_gram(out, tall, gram, matmul);  // Xᵀ X when tall, else X Xᵀ
    kernels::symmetric_gram(gram, false, gram_sq, matmul);  // A² = A·Aᵀ: A is symmetric
    Kokkos::parallel_for(
        "ns_polynomial", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {small, small}),
        KOKKOS_LAMBDA(int i, int j) { poly(i, j) = b * gram(i, j) + c * gram_sq(i, j); });
    Kokkos::deep_copy(next, out);
    if (tall) {
      kernels::gemm<T>("N", "N", T(1), out, poly, a, next, matmul);  // a·X + X·B
    } else {
      kernels::gemm<T>("N", "N", T(1), poly, out, a, next, matmul);  // a·X + B·X
    }
    Kokkos::deep_copy(out, next);
  }
}

template class NewtonSchulz<float>;
template class NewtonSchulz<double>;

}  // namespace kmoe
