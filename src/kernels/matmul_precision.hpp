// The precision of a matrix product's operands (deck: train.precision).
//   fp32  operands as stored.
//   bf16  both operands rounded to bfloat16 (round to nearest even), products accumulated and
//         written in fp32: mixed precision as torch.autocast(dtype=torch.bfloat16) does it.
//         On CUDA the operands are converted to bf16 and cuBLAS multiplies them (GemmEx, fp32
//         compute); on the host they are rounded into fp32 scratch and the fp32 BLAS multiplies
//         them, which gives the same numbers up to the order of the sums, so CI tests the
//         numerics of a bf16 run on a machine without a GPU.
// Master weights, optimizer state, router logits, softmax, losses and norms stay fp32 in both.
#pragma once

#include <cstdint>
#include <string>

#include "core/bit_cast.hpp"

namespace kmoe::kernels {

enum class Matmul { fp32, bf16 };

// "fp32" or "bf16" (train.precision's values; the deck schema rejects others).
inline std::string matmul_name(Matmul m) { return m == Matmul::bf16 ? "bf16" : "fp32"; }
inline Matmul matmul_from_name(const std::string& name) { return name == "bf16" ? Matmul::bf16 : Matmul::fp32; }

// The bfloat16 nearest to x (ties to even) as its 16 bits; NaN stays NaN.
KOKKOS_INLINE_FUNCTION uint16_t bf16_bits(float x) {
  uint32_t bits = bit_cast<uint32_t>(x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40u);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t(bits >> 16);
}

// x rounded to bfloat16 and widened back to float.
KOKKOS_INLINE_FUNCTION float round_to_bf16(float x) { return bit_cast<float>(uint32_t(bf16_bits(x)) << 16); }

}  // namespace kmoe::kernels
