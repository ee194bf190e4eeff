// Quintic Newton–Schulz orthogonalisation (Muon): X ← G / (‖G‖_F + 1e-7), then `steps` times
// X ← a·X + (b·A + c·A²)·X with A = X·Xᵀ, (a, b, c) = (3.4445, −4.7750, 2.0315). For a tall
// matrix the iteration runs on Xᵀ (so the Gram matrix is the small one), written here as
// X ← a·X + X·(b·A + c·A²) with A = Xᵀ·X.
//
// It runs on a batch of equal-shaped matrices at once (Muon's matrices grouped by shape): every
// launch and product covers the whole batch, the norms stay on the device, and each matrix's
// bits are those it gets alone.
#pragma once

#include "core/ordered_sum.hpp"
#include "core/views.hpp"
#include "kernels/matmul_precision.hpp"

namespace kmoe {

template <class T>
class NewtonSchulz {
 public:
  // out_b = orthogonalised g_b for the `count` rows × cols matrices stored one after another at g
  // (and at out), the products' operands in `matmul` precision.
  void run(const T* g, int rows, int cols, int count, int steps, T* out, kernels::Matmul matmul);
  // One matrix.
  void run(const View2<T>& g, int steps, const View2<T>& out, kernels::Matmul matmul = kernels::Matmul::fp32);

 private:
  void ensure(int rows, int cols, int count);
  View1<T> gram_, gram_sq_, poly_, next_;
  View1<double> sum_sq_;  // ‖G_b‖² per matrix, the same bits on every backend and thread count
  OrderedSum frobenius_sum_;
};

}  // namespace kmoe
