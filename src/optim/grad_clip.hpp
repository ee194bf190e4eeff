// Global gradient-norm clipping over the flat gradient buffer.
#pragma once

#include "core/ordered_sum.hpp"
#include "core/views.hpp"

namespace kmoe {

// ‖g‖₂ accumulated in double, the same bits on every backend and thread count (`sum` holds
// the scratch).
template <class T>
double gradient_norm(const View1<T>& grads, OrderedSum& sum);

// Scales g by max_norm / (‖g‖ + 1e-6) when ‖g‖ > max_norm (max_norm 0: off), as PyTorch's
// clip_grad_norm_. Returns the norm before clipping.
template <class T>
double clip_gradient_norm(const View1<T>& grads, double max_norm, OrderedSum& sum);

// True when every gradient is finite.
template <class T>
bool all_finite(const View1<T>& values);

}  // namespace kmoe
