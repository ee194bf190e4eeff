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
  uint64_t keep_threshold = 0;  // word_to_unit(w) ≥ p ⇔ w ≥ keep_threshold

  KOKKOS_INLINE_FUNCTION DropoutMask(double p_, uint64_t seed_, uint64_t stream_)
      : p(p_), seed(seed_), stream(stream_), keep_threshold(threshold_of(p_)) {}

  KOKKOS_INLINE_FUNCTION bool active() const { return p > 0.0; }
  // Mask words are drawn kWords at a time: eight Philox blocks side by side fill the host's
  // vector lanes (four left GCC's loop scalar).
  static constexpr int kWords = 32;
  // The kWords mask words of blocks first_block … first_block + kWords/4 − 1 in element order
  // (all zero when inactive).
  KOKKOS_INLINE_FUNCTION void words(uint64_t first_block, uint32_t (&out)[kWords]) const {
    if (active()) {
      rng::philox4x32_words<kWords / 4>(seed, stream, first_block, out);
    } else {
      for (auto& w : out) w = 0;
    }
  }
  KOKKOS_INLINE_FUNCTION bool kept(uint32_t word) const { return uint64_t(word) >= keep_threshold; }
  // Bit l set where words[l] is kept, in a branch-free loop (a select per element had compiled
  // to a branch mispredicted at every dropped element). An inactive mask's zero words are kept.
  KOKKOS_INLINE_FUNCTION uint32_t kept_bits(const uint32_t (&words)[kWords]) const {
    uint32_t bits = 0;
    for (int l = 0; l < kWords; ++l) bits |= kept(words[l]) ? uint32_t(1) << l : 0u;
    return bits;
  }
  // What a kept element is multiplied by: 1/(1 − p), or 1 when inactive.
  template <class T>
  KOKKOS_INLINE_FUNCTION T keep_scale() const {
    return active() ? T(1.0 / (1.0 - p)) : T(1);
  }

  // (w + ½)/2³² ≥ p ⇔ w ≥ ⌈p·2³² − ½⌉, both sides exact in double: the mask compares integers.
  KOKKOS_INLINE_FUNCTION static uint64_t threshold_of(double p) {
    const double t = p * 4294967296.0 - 0.5;
    if (t <= 0.0) return 0;
    const uint64_t floor_t = uint64_t(t);
    return double(floor_t) < t ? floor_t + 1 : floor_t;
  }
};

}  // namespace kmoe::kernels
