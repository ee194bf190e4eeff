// Cross-entropy over the tied LM head, logits = h·Eᵀ, computed in row chunks so that only a
// [chunk, vocab] block of logits ever exists. Optionally produces the gradients in the same
// pass (the softmax is at hand): dh = ∂L/∂h and dE += ∂L/∂E, for L = grad_scale · Σ_rows CE.
#pragma once

#include <cstdint>

#include "core/views.hpp"
#include "kernels/matmul_precision.hpp"

namespace kmoe::kernels {

struct CrossEntropySums {
  double loss_sum = 0;  // Σ over rows of −log softmax(logits)[target]
  int64_t correct = 0;  // rows whose argmax (lowest index on ties) equals the target
};

// Rows of logits the model computes at a time: only a [chunk, vocab] block ever exists.
constexpr int kLogitsChunkRows = 1024;

// Scratch for one chunk of rows; its row count sets the chunk size.
template <class T>
struct CrossEntropyScratch {
  View2<T> logits;                // [chunk_rows, vocab]
  View1<double> row_loss;         // [chunk_rows]
  View1<int> row_correct;         // [chunk_rows]
  View1<double> totals;           // [loss sum, correct] over the chunks, summed on the device
  HostView1<double> host_totals;  // read once per call
  CrossEntropyScratch() = default;
  CrossEntropyScratch(int chunk_rows, int vocab);
};

// Leave dh empty (extent 0) for evaluation without gradients.
template <class T>
CrossEntropySums tied_head_cross_entropy(const View2<T>& h, const View2<T>& embedding, const View1<int>& targets,
                                         const CrossEntropyScratch<T>& scratch, T grad_scale, const View2<T>& dh,
                                         const View2<T>& dembedding, Matmul matmul = Matmul::fp32);

}  // namespace kmoe::kernels
