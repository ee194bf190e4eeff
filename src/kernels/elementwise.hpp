// Small element-wise kernels: SiLU, residual adds, counter-based dropout.
#pragma once

#include "core/views.hpp"

#include <cstdint>

namespace kmoe::kernels {

// act = Drop(silu(h)), silu(h) = h · sigmoid(h), with the dropout mask of dropout_apply for
// (p, seed, stream); p = 0: no dropout. One pass, so the backward can recompute act cheaply.
template <class T>
void silu_dropout_forward(const View2<T>& h, const View2<T>& act, double p, uint64_t seed, uint64_t stream);
// dh = silu'(h) · Drop(dact), the same mask.
template <class T>
void silu_dropout_backward(const View2<T>& h, const View2<T>& dact, const View2<T>& dh, double p, uint64_t seed,
                           uint64_t stream);

// y += x
template <class T>
void add_into(const View2<T>& y, const View2<T>& x);

// Inverted dropout in place on a contiguous view: x ← x · mask / (1 − p), where element e is
// kept when word e mod 4 of philox(seed, stream, e / 4), as a uniform, is ≥ p. The same call
// on the gradient is the backward. p = 0 leaves x untouched.
template <class T>
void dropout_apply(const View2<T>& x, double p, uint64_t seed, uint64_t stream);

}  // namespace kmoe::kernels
