// Global gradient-norm clipping over the flat gradient buffer.
#pragma once

#include "core/ordered_sum.hpp"
#include "core/views.hpp"

namespace kmoe {

// ‖g‖₂ accumulated in double, the same bits on every backend and thread count (`sum` holds
// the scratch).
template <class T>
double gradient_norm(const View1<T>& grads, OrderedSum& sum);

// Given the whole gradient's norm, scales `grads` (all or part of it) by max_norm / (norm + 1e-6)
// when norm > max_norm (max_norm 0: off), as PyTorch's clip_grad_norm_.
template <class T>
void clip_to_max_norm(const View1<T>& grads, double norm, double max_norm);

// True when every gradient is finite.
template <class T>
bool all_finite(const View1<T>& values);

}  // namespace kmoe
