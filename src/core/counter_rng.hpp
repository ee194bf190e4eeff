// Counter-based random numbers: value = f(seed, stream, index), Philox-4x32-10.
// No state, so every backend and thread count produces identical numbers for the same triple.
// Streams separate independent uses (initialisation of each tensor, router noise per layer
// and step, dropout masks, data order) so that changing one never shifts another.
#pragma once

#include <cstdint>

#include "core/kokkos_compat.hpp"
#include "core/simd_loop.hpp"

namespace kmoe::rng {

struct Block4 {
  uint32_t v[4];
};

KOKKOS_INLINE_FUNCTION void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// Philox-4x32 with 10 rounds (Salmon et al., SC'11). Counter = (index, stream), key = seed.
// The words of N consecutive indices, first_index … first_index + N − 1, in order (word w of
// block b is words[4·b + w]): the rounds run over the N counters side by side, a vectorisable
// loop.
template <int N>
KOKKOS_INLINE_FUNCTION void philox4x32_words(uint64_t seed, uint64_t stream, uint64_t first_index,
                                             uint32_t (&words)[4 * N]) {
  uint32_t c0[N], c1[N], c2[N], c3[N];
  KMOE_SIMD_LOOP
  for (int b = 0; b < N; ++b) {
    const uint64_t index = first_index + b;
    c0[b] = static_cast<uint32_t>(index);
    c1[b] = static_cast<uint32_t>(index >> 32);
    c2[b] = static_cast<uint32_t>(stream);
    c3[b] = static_cast<uint32_t>(stream >> 32);
  }
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    KMOE_SIMD_LOOP
    for (int b = 0; b < N; ++b) {
      uint32_t hi0, lo0, hi1, lo1;
      mulhilo(0xD2511F53u, c0[b], hi0, lo0);
      mulhilo(0xCD9E8D57u, c2[b], hi1, lo1);
      const uint32_t n0 = hi1 ^ c1[b] ^ k0, n2 = hi0 ^ c3[b] ^ k1;
      c0[b] = n0;
      c1[b] = lo1;
      c2[b] = n2;
      c3[b] = lo0;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int b = 0; b < N; ++b) {
    words[4 * b] = c0[b];
    words[4 * b + 1] = c1[b];
    words[4 * b + 2] = c2[b];
    words[4 * b + 3] = c3[b];
  }
}

// One block of Philox-4x32-10.
KOKKOS_INLINE_FUNCTION Block4 philox4x32(uint64_t seed, uint64_t stream, uint64_t index) {
  Block4 block;
  philox4x32_words<1>(seed, stream, index, block.v);
  return block;
}

// 53-bit uniform in the open interval (0, 1) from two 32-bit words.
KOKKOS_INLINE_FUNCTION double to_open_unit(uint32_t a, uint32_t b) {
  const uint64_t bits = (static_cast<uint64_t>(a) << 21) ^ static_cast<uint64_t>(b >> 11);
  return (static_cast<double>(bits & ((uint64_t(1) << 53) - 1)) + 0.5) * (1.0 / 9007199254740992.0);
}

// Uniform in (0, 1) from one 32-bit word: where 32 bits suffice (dropout masks), one Philox
// block gives four draws.
KOKKOS_INLINE_FUNCTION double word_to_unit(uint32_t word) { return (double(word) + 0.5) * (1.0 / 4294967296.0); }

KOKKOS_INLINE_FUNCTION double uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  const Block4 r = philox4x32(seed, stream, index);
  return to_open_unit(r.v[0], r.v[1]);
}

// Standard normal by Box-Muller in double precision (then rounded by the caller's type,
// which hides last-ulp differences between device and host math libraries).
KOKKOS_INLINE_FUNCTION double normal(uint64_t seed, uint64_t stream, uint64_t index) {
  const Block4 r = philox4x32(seed, stream, index);
  const double u1 = to_open_unit(r.v[0], r.v[1]);
  const double u2 = to_open_unit(r.v[2], r.v[3]);
  return math::sqrt(-2.0 * math::log(u1)) * math::cos(6.283185307179586 * u2);
}

// Stream ids: a named purpose combined with up to two small coordinates (layer, tensor...).
enum class Purpose : uint32_t {
  Init = 1,
  RouterNoise = 2,
  Dropout = 3,
  DataOrder = 4,
  RandomRouting = 5,
  HashRouting = 6,
  Test = 99
};

KOKKOS_INLINE_FUNCTION uint64_t stream_id(Purpose purpose, uint32_t a = 0, uint32_t b = 0) {
  return (static_cast<uint64_t>(purpose) << 56) ^ (static_cast<uint64_t>(a & 0xFFFFFFu) << 32) ^
         static_cast<uint64_t>(b);
}

}  // namespace kmoe::rng
