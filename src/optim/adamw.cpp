#include "optim/adamw.hpp"

#include <cmath>

#include "core/kokkos_compat.hpp"

namespace kmoe {

template <class T>
AdamW<T>::AdamW(std::vector<Segment> segments, const AdamWSettings& settings)
    : settings_(settings), segments_(static_cast<int>(segments.size())) {
  segment_offset_ = View1<size_t>("adamw_segment_offset", segments.size());
  segment_start_ = View1<size_t>("adamw_segment_start", segments.size() + 1);
  auto offset = Kokkos::create_mirror_view(segment_offset_);
  auto start = Kokkos::create_mirror_view(segment_start_);
  size_t total = 0;
  for (size_t s = 0; s < segments.size(); ++s) {
    offset(s) = segments[s].offset;
    start(s) = total;
    total += segments[s].size;
  }
  start(segments.size()) = total;
  Kokkos::deep_copy(segment_offset_, offset);
  Kokkos::deep_copy(segment_start_, start);
  m_ = View1<T>("adamw_m", total);
  v_ = View1<T>("adamw_v", total);
}

template <class T>
void AdamW<T>::update(const View1<T>& params, const View1<T>& grads, double lr, int64_t step) {
  // 1 - beta in double: in float, 1 - float(0.999) is 1.3e-5 too small, biasing v low against
  // the double bias correction.
  const T beta1 = T(settings_.beta1), beta2 = T(settings_.beta2), eps = T(settings_.eps);
  const T one_minus_beta1 = T(1.0 - settings_.beta1), one_minus_beta2 = T(1.0 - settings_.beta2);
  const T decay = T(1.0 - lr * settings_.weight_decay);
  const T step_size = T(lr / (1.0 - std::pow(settings_.beta1, double(step))));
  const T sqrt_bc2 = T(std::sqrt(1.0 - std::pow(settings_.beta2, double(step))));
  const auto offset = segment_offset_;
  const auto start = segment_start_;
  const auto m = m_;
  const auto v = v_;
  const int segments = segments_;
  Kokkos::parallel_for(
      "adamw_update", Range(0, m.extent(0)), KOKKOS_LAMBDA(size_t i) {
        int s = 0;
        while (s + 1 < segments && start(s + 1) <= i) ++s;
        const size_t p = offset(s) + (i - start(s));
        const T g = grads(p);
        m(i) = beta1 * m(i) + one_minus_beta1 * g;
        v(i) = beta2 * v(i) + one_minus_beta2 * g * g;
        params(p) = params(p) * decay - step_size * m(i) / (math::sqrt(v(i)) / sqrt_bc2 + eps);
      });
}

template class AdamW<float>;
template class AdamW<double>;

}  // namespace kmoe
