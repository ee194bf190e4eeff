// Causal multi-head attention over q, k, v [tokens, heads·head_dim] (rows b·T + t), with
// scale 1/√head_dim and dropout on the probabilities. Memory-bounded: the forward keeps only
// each row's log-sum-exp; the backward recomputes probabilities from it (flash-style), so no
// T×T matrix is ever stored. Column sums (dK, dV) run in their own pass: no atomics, so
// results are deterministic.
#pragma once

#include "core/views.hpp"

#include <cstdint>

namespace kmoe::kernels {

struct AttentionShape {
  int batch, seq_len, heads, head_dim;
};

// Largest head_dim the kernels accept (per-thread accumulators live in registers/stack).
constexpr int kMaxHeadDim = 256;

struct AttentionDropout {
  double p = 0.0;
  uint64_t seed = 0;
  uint64_t stream = 0;
};

// out [tokens, heads·head_dim], lse [tokens, heads].
template <class T>
void causal_attention_forward(const AttentionShape& shape, const View2<T>& q, const View2<T>& k,
                              const View2<T>& v, const AttentionDropout& dropout,
                              const View2<T>& out, const View2<T>& lse);

// dq, dk, dv overwritten. `row_dot` [tokens, heads] is scratch.
template <class T>
void causal_attention_backward(const AttentionShape& shape, const View2<T>& q, const View2<T>& k,
                               const View2<T>& v, const View2<T>& out, const View2<T>& lse,
                               const View2<T>& dout, const AttentionDropout& dropout,
                               const View2<T>& dq, const View2<T>& dk, const View2<T>& dv,
                               const View2<T>& row_dot);

}  // namespace kmoe::kernels
