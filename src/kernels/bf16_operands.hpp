// The operands of a bf16 product (kernels/matmul_precision.hpp), rounded into scratch that grows
// to the largest operand seen and is then reused, so a step allocates only in its first
// products. Products run in order on one execution space instance: a product's scratch is free
// again once the next product's rounding is queued behind it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kmoe::kernels {

enum class OperandSlot { a = 0, b = 1 };

// [p, p + elements) rounded to bf16 and kept in T: what the host's fp32 BLAS multiplies.
template <class T>
const T* rounded_operand(const T* p, size_t elements, OperandSlot slot);

// [p, p + elements) as bf16 bits (cuBLAS's CUDA_R_16BF), in the model's memory space.
const uint16_t* bf16_operand(const float* p, size_t elements, OperandSlot slot);

}  // namespace kmoe::kernels
