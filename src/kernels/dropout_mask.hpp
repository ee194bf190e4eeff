// The dropout mask, defined once: element e of a masked range is kept when word (e mod 4) of
// philox(seed, stream, e / 4), read as a uniform, is ≥ p; kept values are scaled by 1/(1 − p).
// Four mask entries per Philox block; the same (seed, stream) gives the same mask in the
// forward and the backward, on every backend.
#pragma once

#include "core/counter_rng.hpp"

namespace kmoe::kernels {

struct DropoutMask {
  double p = 0.0;
  uint64_t seed = 0, stream = 0;

  KOKKOS_INLINE_FUNCTION bool active() const { return p > 0.0; }
  KOKKOS_INLINE_FUNCTION rng::Block4 block(uint64_t index) const {
    return active() ? rng::philox4x32(seed, stream, index) : rng::Block4{};
  }
  // 0 or 1/(1 − p) for lane `lane` of a block (1 when inactive).
  template <class T>
  KOKKOS_INLINE_FUNCTION T multiplier(const rng::Block4& b, int lane) const {
    if (!active()) return T(1);
    return rng::word_to_unit(b.v[lane]) >= p ? T(1.0 / (1.0 - p)) : T(0);
  }
};

}  // namespace kmoe::kernels
