// Sinkhorn-balanced selection (S-BASE, Megatron's sinkhorn_load_balancing): in training the
// top-k is taken of Sinkhorn's balanced matrix d1_e · exp(l_ne) · d0_n instead of the scores.
// Per token the factor d0_n is one positive constant, so that top-k is the top-k of l_ne + log d1_e:
// the balancing is a per-expert selection bias, computed here without gradient. Megatron's
// iteration (moe_utils.sinkhorn): from d1 = 1, repeat d0 = (1/T) / (Σ_e d1_e C_ne + ε),
// d1 = (1/E) / (Σ_n d0_n C_ne + ε) until mean_e |Δd1| ≤ 1e-4 (at most kSinkhornMaxIterations),
// with C_ne = exp(l_ne − max_e l_ne): the row shift is absorbed by d0 and leaves d1 unchanged.
// Sums run in a fixed order, so the bias is the same on every backend and thread count.
#pragma once

#include "core/views.hpp"

namespace kmoe::kernels {

constexpr double kSinkhornTolerance = 1e-4, kSinkhornEpsilon = 1e-8;
constexpr int kSinkhornMaxIterations = 1000;

template <class T>
struct SinkhornWorkspace {
  View1<T> row_scale;     // [tokens] d0
  View1<T> row_max;       // [tokens]
  View1<T> col_scale;     // [experts] d1
  View1<T> previous;      // [experts] d1 of the previous iteration
  View1<int> iterations;  // [1] the iterations the last call took
  SinkhornWorkspace() = default;
  SinkhornWorkspace(int tokens, int experts);
};

// bias[e] = log d1_e for the logits [tokens, experts] (tokens ≤ the workspace's).
template <class T>
void sinkhorn_selection_bias(const View2<T>& logits, const View1<T>& bias, const SinkhornWorkspace<T>& workspace);

}  // namespace kmoe::kernels
