#include "optim/muon.hpp"

#include <algorithm>
#include <cmath>

namespace kmoe {

template <class T>
Muon<T>::Muon(std::vector<MatrixSegment> matrices, const MuonSettings& settings)
    : settings_(settings), matrices_(std::move(matrices)) {
  size_t total = 0, largest = 0;
  int largest_small = 0;
  for (const auto& m : matrices_) {
    state_offset_.push_back(total);
    total += size_t(m.rows) * m.cols;
    largest = std::max(largest, size_t(m.rows) * m.cols);
    largest_small = std::max(largest_small, std::min(m.rows, m.cols));
  }
  momentum_ = View1<T>("muon_momentum", total);
  direction_ = View1<T>("muon_direction", largest);
  orthogonal_ = View1<T>("muon_orthogonal", largest);
  newton_schulz_ = NewtonSchulz<T>(largest_small);
}

template <class T>
void Muon<T>::update(const View1<T>& params, const View1<T>& grads, double lr) {
  const T mu = T(settings_.momentum), one_minus_mu = T(1.0 - settings_.momentum);  // 1 - mu in double
  const bool nesterov = settings_.nesterov;
  for (size_t t = 0; t < matrices_.size(); ++t) {
    const auto& m = matrices_[t];
    const size_t n = size_t(m.rows) * m.cols, p0 = m.offset, s0 = state_offset_[t];
    const auto buf = momentum_;
    const auto dir = direction_;
    Kokkos::parallel_for(
        "muon_momentum", Range(0, n), KOKKOS_LAMBDA(size_t i) {
          const T g = grads(p0 + i);
          buf(s0 + i) += one_minus_mu * (g - buf(s0 + i));
          dir(i) = nesterov ? one_minus_mu * g + mu * buf(s0 + i) : buf(s0 + i);
        });
    const View2<T> direction(direction_.data(), m.rows, m.cols), orthogonal(orthogonal_.data(), m.rows, m.cols);
    newton_schulz_.run(direction, settings_.ns_steps, orthogonal, settings_.matmul);
    const T step = T(lr * std::sqrt(std::max(1.0, double(m.rows) / m.cols)));
    const auto orth = orthogonal_;
    Kokkos::parallel_for(
        "muon_apply", Range(0, n), KOKKOS_LAMBDA(size_t i) { params(p0 + i) -= step * orth(i); });
  }
}

template class Muon<float>;
template class Muon<double>;

}  // namespace kmoe
