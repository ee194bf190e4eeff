// RMSNorm with a learnable gain: y = x · rsqrt(mean(x²) + eps) · g.
#pragma once

#include "core/views.hpp"

namespace kmoe::kernels {

// Writes y and the per-row reciprocal rms (needed by the backward).
template <class T>
void rmsnorm_forward(const View2<T>& x, const View1<T>& gain, T eps, const View2<T>& y, const View1<T>& rstd);

// dx = ∂L/∂x (overwritten, or added when accumulate_dx), dgain += ∂L/∂g.
template <class T>
void rmsnorm_backward(const View2<T>& x, const View1<T>& gain, const View1<T>& rstd, const View2<T>& dy,
                      const View2<T>& dx, const View1<T>& dgain, bool accumulate_dx);

}  // namespace kmoe::kernels
