// Small element-wise kernels: SiLU, residual adds, counter-based dropout.
#pragma once

#include <cstdint>

#include "core/views.hpp"

namespace kmoe::kernels {

// act = Drop(silu(h)), silu(h) = h · sigmoid(h), with the dropout mask of dropout_forward for
// (p, seed, stream); p = 0: no dropout. The mask is also written to `kept` (one bit per element,
// bit e mod 8 of byte e / 8; at least ⌈span/8⌉ bytes, unused when p = 0) so that the backward
// reads it instead of drawing it again.
template <class T>
void silu_dropout_forward(const View2<T>& h, const View2<T>& act, double p, uint64_t seed, uint64_t stream,
                          const View1<uint8_t>& kept);
// dh = silu'(h) · Drop(dact), with the forward's mask bits.
template <class T>
void silu_dropout_backward(const View2<T>& h, const View2<T>& dact, const View2<T>& dh, double p,
                           const View1<uint8_t>& kept);
// Bytes of mask bits for a view of `elements` elements.
inline size_t dropout_bit_bytes(size_t elements) { return (elements + 7) / 8; }

// y += x
template <class T>
void add_into(const View2<T>& y, const View2<T>& x);

// Inverted dropout in place on a contiguous view: x ← x · mask / (1 − p), where element e is
// kept when word e mod 4 of philox(seed, stream, e / 4), as a uniform, is ≥ p; the mask is
// recorded in `kept` as for silu_dropout_forward. p = 0 leaves x untouched.
template <class T>
void dropout_forward(const View2<T>& x, double p, uint64_t seed, uint64_t stream, const View1<uint8_t>& kept);
// The backward: x ← x · mask / (1 − p) with the mask recorded by the forward.
template <class T>
void dropout_backward(const View2<T>& x, double p, const View1<uint8_t>& kept);

}  // namespace kmoe::kernels
