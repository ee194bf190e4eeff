// Causal multi-head attention over q, k, v [tokens, heads·head_dim] (rows b·T + t), with
// scale 1/√head_dim and dropout on the probabilities. Heads are packed to contiguous
// [T, head_dim] blocks and the score and value products run as batched GEMMs (batched_gemm:
// cuBLAS strided-batched, or parallel single-threaded BLAS skipping the causal zeros on the
// host), a group of heads per call, so the T×T score scratch is bounded by the workspace. The forward keeps each row's
// log-sum-exp; the backward recomputes the probabilities from it (flash-style) and reads the dropout mask the forward
// recorded. No atomics: deterministic.
#pragma once

#include <cstdint>

#include "core/views.hpp"
#include "kernels/dropout_mask.hpp"
#include "kernels/matmul_precision.hpp"

namespace kmoe::kernels {

struct AttentionShape {
  int batch, seq_len, heads, head_dim;
};

struct AttentionDropout {
  double p = 0.0;
  uint64_t seed = 0;
  uint64_t stream = 0;
  // When p > 0 the forward records the mask here and the backward reads it instead of drawing
  // it again: one word per (packed head, query row, group of DropoutMask::kWords columns), bit c
  // keeping column kWords·group + c; attention_kept_words(shape) of them.
  View1<uint32_t> kept;
};

inline size_t attention_kept_words(const AttentionShape& s) {
  return size_t(s.batch) * s.heads * s.seq_len * ((s.seq_len + DropoutMask::kWords - 1) / DropoutMask::kWords);
}

// Elements of one score buffer, which bounds a group of T×T blocks. A GPU takes 2²⁵ (128 MiB
// in float: 128 heads of 512 tokens, the reference model's whole micro-batch of 8 in one
// group). The host takes 2²⁰ (4 heads of 512), so that a group's scores and their gradients
// stay in the last-level cache between the products and the softmax pass: measured 150 → 107
// ms per layer at the reference shapes on 2 cores.
constexpr size_t kAttentionScoreElements =
    Kokkos::SpaceAccessibility<ExecSpace, HostSpace>::accessible ? size_t(1) << 20 : size_t(1) << 25;

// Scratch for the packed heads and a group of T×T score blocks; sized on first use.
template <class T>
struct AttentionWorkspace {
  View2<T> q, k, v, out, dout, dq, dk, dv;  // packed [(b·H + h)·T + t, head_dim]
  View1<T> scores, grad_scores;             // group of T×T blocks
  View1<T> row_dot;                         // [tokens·heads] dO·O per row (backward)
  int group = 0;                            // heads per group
  void ensure(const AttentionShape& shape);
};

// out [tokens, heads·head_dim], lse [tokens, heads].
template <class T>
void causal_attention_forward(const AttentionShape& shape, const View2<T>& q, const View2<T>& k, const View2<T>& v,
                              const AttentionDropout& dropout, const View2<T>& out, const View2<T>& lse,
                              AttentionWorkspace<T>& workspace, Matmul matmul = Matmul::fp32);

// dq, dk, dv overwritten.
template <class T>
void causal_attention_backward(const AttentionShape& shape, const View2<T>& q, const View2<T>& k, const View2<T>& v,
                               const View2<T>& out, const View2<T>& lse, const View2<T>& dout,
                               const AttentionDropout& dropout, const View2<T>& dq, const View2<T>& dk,
                               const View2<T>& dv, AttentionWorkspace<T>& workspace, Matmul matmul = Matmul::fp32);

}  // namespace kmoe::kernels
