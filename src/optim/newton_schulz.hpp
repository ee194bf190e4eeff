// Quintic Newton–Schulz orthogonalisation (Muon): X ← G / (‖G‖_F + 1e-7), then `steps` times
// X ← a·X + (b·A + c·A²)·X with A = X·Xᵀ, (a, b, c) = (3.4445, −4.7750, 2.0315). For a tall
// matrix the iteration runs on Xᵀ (so the Gram matrix is the small one), written here as
// X ← a·X + X·(b·A + c·A²) with A = Xᵀ·X.
#pragma once

#include "core/ordered_sum.hpp"
#include "core/views.hpp"
#include "kernels/matmul_precision.hpp"

namespace kmoe {

template <class T>
class NewtonSchulz {
 public:
  // Workspace for matrices up to max_small × max_small Gram size.
  explicit NewtonSchulz(int max_small = 0);
  // out (same shape as g) = orthogonalised g, the products' operands in `matmul` precision.
  void run(const View2<T>& g, int steps, const View2<T>& out, kernels::Matmul matmul = kernels::Matmul::fp32);

 private:
  void ensure(int rows, int cols);
  View1<T> gram_, gram_sq_, poly_, next_;
  OrderedSum frobenius_sum_;  // ‖G‖², the same bits on every backend and thread count
};

}  // namespace kmoe
