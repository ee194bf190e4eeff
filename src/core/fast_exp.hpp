// exp for the hot element-wise passes (softmax rows, SiLU, cross-entropy): in float a
// branch-free Cephes-style range reduction and polynomial (at most 2 ulp from the correctly
// rounded value, tested) that the compiler can vectorise, where a libm call per element cannot
// be; in double the library's exp, so float64 parity with the reference is untouched.
// Pure arithmetic on every backend: a vectorised and a scalar lane give the same bits.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/bit_cast.hpp"
#include "core/kokkos_compat.hpp"

namespace kmoe::math {

KOKKOS_INLINE_FUNCTION float fast_exp(float x) {
  constexpr float kMin = -87.3365448f, kMax = 88.7228394f;  // exp underflows / overflows beyond
  const float clamped = x < kMin ? kMin : (x > kMax ? kMax : x);
  // n = round(x / ln 2) by the 1.5·2²³ trick, r = x − n·ln 2 in two parts (Cody–Waite)
  constexpr float kRound = 12582912.0f;
  const float shifted = clamped * 1.44269504088896341f + kRound;
  const float n = shifted - kRound;
  float r = clamped - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e_r = (p * r) * r + r + 1.0f;
  // 2ⁿ in two halves so that n = 128 (x near kMax) and n = −126 stay representable
  const int32_t ni = int32_t(n);
  const int32_t half = ni / 2;
  const float result =
      e_r * bit_cast<float>(uint32_t(half + 127) << 23) * bit_cast<float>(uint32_t(ni - half + 127) << 23);
  return x < kMin ? 0.0f : (x > kMax ? HUGE_VALF : result);
}

KOKKOS_INLINE_FUNCTION double fast_exp(double x) { return exp(x); }

}  // namespace kmoe::math
