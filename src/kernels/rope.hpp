// Rotary position embedding on interleaved pairs (2i, 2i+1) of every head:
// (x0, x1) → (x0·cos θ − x1·sin θ, x1·cos θ + x0·sin θ), θ = p · base^(−2i/head_dim),
// p = position of the row within its sequence (row mod seq_len).
#pragma once

#include "core/views.hpp"

namespace kmoe::kernels {

// cos θ and sin θ for every (position, pair), computed once in double.
template <class T>
struct RopeTable {
  View2<T> cos, sin;  // [seq_len, head_dim / 2]
  RopeTable() = default;
  RopeTable(int seq_len, int head_dim, double base);
};

// In place on x [tokens, heads·head_dim]: each pair rotated by its position's angle.
template <class T>
void rope_forward(const View2<T>& x, const RopeTable<T>& table);
// In place on dx: the inverse rotation, which is the backward (the rotation is orthogonal).
template <class T>
void rope_backward(const View2<T>& dx, const RopeTable<T>& table);

}  // namespace kmoe::kernels
