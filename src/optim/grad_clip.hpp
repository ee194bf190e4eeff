// Global gradient-norm clipping over the flat gradient buffer.
#pragma once

#include <vector>

#include "core/ordered_sum.hpp"
#include "core/views.hpp"

namespace kmoe {

// ‖g‖₂ accumulated in double, the same bits on every backend and thread count (`sum` holds
// the scratch): the squares summed in OrderedSum's fixed blocks, the blocks' sums added in block
// order on the host (norm_of_block_sums).
template <class T>
double gradient_norm(const View1<T>& grads, OrderedSum& sum);

// The blocks [first, end) of that sum, so that ranks may each sum some blocks of the gradient.
template <class T>
std::vector<double> squared_block_sums(const View1<T>& grads, size_t first, size_t end, OrderedSum& sum);

// √ of every block's sum, added in block order: gradient_norm from all blocks' sums.
double norm_of_block_sums(const std::vector<double>& block_sums);

// Given the whole gradient's norm, scales `grads` (all or part of it) by max_norm / (norm + 1e-6)
// when norm > max_norm (max_norm 0: off), as PyTorch's clip_grad_norm_.
template <class T>
void clip_to_max_norm(const View1<T>& grads, double norm, double max_norm);

// True when every gradient is finite.
template <class T>
bool all_finite(const View1<T>& values);

}  // namespace kmoe
