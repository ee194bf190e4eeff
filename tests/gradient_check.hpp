// Finite-difference gradient checks for the kernel and model tests (double precision).
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "core/counter_rng.hpp"
#include "core/views.hpp"

namespace kmoe::testing {

// Copies any contiguous view to a host vector.
template <class V>
std::vector<double> to_vector(const V& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(host.data(), host.data() + host.span());
}

// Fills a contiguous view with scale·N(0, 1) from the counter RNG (stream = `stream`).
template <class V>
void fill_normal(const V& view, uint64_t stream, double scale = 1.0) {
  auto host = Kokkos::create_mirror_view(view);
  for (size_t i = 0; i < host.span(); ++i) host.data()[i] = scale * rng::normal(2024, stream, i);
  Kokkos::deep_copy(view, host);
}

// Σ w ⊙ out, w a fixed pseudo-random weight per element: a scalar loss whose gradient
// with respect to `out` is w.
template <class V>
double weighted_sum(const V& out, uint64_t stream = 777) {
  const auto values = to_vector(out);
  double sum = 0;
  for (size_t i = 0; i < values.size(); ++i) sum += values[i] * rng::normal(99, stream, i);
  return sum;
}

// Writes the weights of weighted_sum into `grad` (∂loss/∂out).
template <class V>
void weighted_sum_grad(const V& grad, uint64_t stream = 777) {
  auto host = Kokkos::create_mirror_view(grad);
  for (size_t i = 0; i < host.span(); ++i) host.data()[i] = rng::normal(99, stream, i);
  Kokkos::deep_copy(grad, host);
}

// max_i |analytic_i − numeric_i| / max(max_i |numeric_i|, 1e-12), numeric by central
// differences of `loss` in each element of `x`.
template <class V>
double fd_relative_error(const V& x, const std::vector<double>& analytic, const std::function<double()>& loss,
                         double h = 1e-6) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < host.span(); ++i) {
    const double original = host.data()[i];
    host.data()[i] = original + h;
    Kokkos::deep_copy(x, host);
    const double plus = loss();
    host.data()[i] = original - h;
    Kokkos::deep_copy(x, host);
    const double minus = loss();
    host.data()[i] = original;
    Kokkos::deep_copy(x, host);
    const double numeric = (plus - minus) / (2 * h);
    max_diff = std::max(max_diff, std::fabs(numeric - analytic[i]));
    max_ref = std::max(max_ref, std::fabs(numeric));
  }
  return max_diff / std::max(max_ref, 1e-12);
}

}  // namespace kmoe::testing
