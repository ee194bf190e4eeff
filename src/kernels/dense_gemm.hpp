// Linear layers (no bias) through Kokkos Kernels GEMM. Weights are [out, in] as in PyTorch,
// activations [tokens, features], all row-major.
#pragma once

#include "core/views.hpp"
#include "kernels/matmul_precision.hpp"

namespace kmoe::kernels {

// `matmul`: the operands' precision (kernels/matmul_precision.hpp).
// y = x · Wᵀ (+ beta·y)
template <class T>
void linear_forward(const View2<T>& x, const View2<T>& w, const View2<T>& y, T beta = T(0),
                    Matmul matmul = Matmul::fp32);
// dx = dy · W (+ beta·dx)
template <class T>
void linear_backward_input(const View2<T>& dy, const View2<T>& w, const View2<T>& dx, T beta = T(0),
                           Matmul matmul = Matmul::fp32);
// dW += dyᵀ · x
template <class T>
void linear_backward_weight(const View2<T>& dy, const View2<T>& x, const View2<T>& dw, Matmul matmul = Matmul::fp32);

// C = alpha · op(A) · op(B) + beta · C, op = "N" or "T".
template <class T>
void gemm(const char* op_a, const char* op_b, T alpha, const View2<T>& a, const View2<T>& b, T beta, const View2<T>& c,
          Matmul matmul = Matmul::fp32);

}  // namespace kmoe::kernels
