#include "optim/grad_clip.hpp"

#include <cmath>

#include "core/kokkos_compat.hpp"

namespace kmoe {

template <class T>
std::vector<double> squared_block_sums(const View1<T>& grads, size_t first, size_t end, OrderedSum& sum) {
  return sum.block_sums(
      "gradient_norm", first, end, grads.extent(0),
      KOKKOS_LAMBDA(size_t i) { return double(grads(i)) * double(grads(i)); });
}

double norm_of_block_sums(const std::vector<double>& block_sums) {
  double total = 0;
  for (const double s : block_sums) total += s;
  return std::sqrt(total);
}

template <class T>
double gradient_norm(const View1<T>& grads, OrderedSum& sum) {
  return norm_of_block_sums(squared_block_sums(grads, 0, OrderedSum::blocks(grads.extent(0)), sum));
}

template <class T>
void clip_to_max_norm(const View1<T>& grads, double norm, double max_norm) {
  if (max_norm > 0 && norm > max_norm) {
    const T scale = T(max_norm / (norm + 1e-6));
    Kokkos::parallel_for(
        "clip_gradients", Range(0, grads.extent(0)), KOKKOS_LAMBDA(size_t i) { grads(i) *= scale; });
  }
}

template <class T>
bool all_finite(const View1<T>& values) {
  int bad = 0;
  Kokkos::parallel_reduce(
      "count_nonfinite", Range(0, values.extent(0)),
      KOKKOS_LAMBDA(size_t i, int& acc) { acc += math::isfinite(values(i)) ? 0 : 1; }, bad);
  return bad == 0;
}

template std::vector<double> squared_block_sums<float>(const View1<float>&, size_t, size_t, OrderedSum&);
template std::vector<double> squared_block_sums<double>(const View1<double>&, size_t, size_t, OrderedSum&);
template double gradient_norm<float>(const View1<float>&, OrderedSum&);
template double gradient_norm<double>(const View1<double>&, OrderedSum&);
template void clip_to_max_norm<float>(const View1<float>&, double, double);
template void clip_to_max_norm<double>(const View1<double>&, double, double);
template bool all_finite<float>(const View1<float>&);
template bool all_finite<double>(const View1<double>&);

}  // namespace kmoe
