#include "kernels/elementwise.hpp"

#include "core/counter_rng.hpp"
#include "core/error.hpp"
#include "core/extent_check.hpp"
#include "core/fast_exp.hpp"
#include "core/kokkos_compat.hpp"
#include "kernels/chunk_loop.hpp"
#include "kernels/dropout_mask.hpp"

namespace kmoe::kernels {
namespace {
template <class V>
Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>> every_element(const V& v) {
  return Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {int(v.extent(0)), int(v.extent(1))});
}
}  // namespace

namespace {
// Element-wise passes work on chunks of DropoutMask::kWords (32) elements: the mask words of
// eight Philox blocks, four bytes of `kept` bits, and a fixed-length inner loop (for_chunk) the
// compiler vectorises (the exp in it is math::fast_exp). The chunking changes no mask: element
// e still uses word e mod 4 of block e / 4 and bit e mod 8 of byte e / 8.
constexpr int kChunk = DropoutMask::kWords;

size_t chunks_of(size_t n) { return (n + kChunk - 1) / kChunk; }

KOKKOS_INLINE_FUNCTION int chunk_elements(size_t n, size_t first) {
  return n - first < size_t(kChunk) ? int(n - first) : kChunk;
}

// keep[l] = scale where bit l is set, else 0.
template <class T>
KOKKOS_INLINE_FUNCTION void keep_multipliers(uint32_t bits, T scale, T (&keep)[kChunk]) {
  for (int l = 0; l < kChunk; ++l) keep[l] = (bits >> l & 1) ? scale : T(0);
}

// Calls f(element, keep_multiplier) for every element of a contiguous span of n, drawing the
// dropout masks and writing them to `kept` (multiplier 1 and no bits when p = 0).
template <class T, class F>
void for_each_recording_dropout(const char* name, size_t n, double p, uint64_t seed, uint64_t stream,
                                const View1<uint8_t>& kept, const F& f) {
  require(p <= 0.0 || kept.extent(0) >= dropout_bit_bytes(n), std::string(name) + ": mask bit buffer too small");
  const DropoutMask mask{p, seed, stream};
  const T scale = mask.keep_scale<T>();
  Kokkos::parallel_for(
      name, Range(0, chunks_of(n)), KOKKOS_LAMBDA(size_t chunk) {
        const size_t first = chunk * kChunk;
        uint32_t words[kChunk];
        mask.words(first / 4, words);
        const uint32_t bits = mask.kept_bits(words);  // then the multipliers from them
        T keep[kChunk];
        keep_multipliers(bits, scale, keep);
        const int count = chunk_elements(n, first);
        for_chunk<kChunk>(count, [&](int l) { f(first + l, keep[l]); });
        if (mask.active()) {
          for (int byte = 0; 8 * byte < count; ++byte) kept(first / 8 + byte) = uint8_t(bits >> 8 * byte);
        }
      });
}

// Calls f(element, keep_multiplier) for every element, the multipliers read from `kept` bits.
template <class T, class F>
void for_each_with_kept(const char* name, size_t n, double p, const View1<uint8_t>& kept, const F& f) {
  require(p <= 0.0 || kept.extent(0) >= dropout_bit_bytes(n), std::string(name) + ": mask bit buffer too small");
  const bool active = p > 0.0;
  const T scale = DropoutMask{p, 0, 0}.keep_scale<T>();
  Kokkos::parallel_for(
      name, Range(0, chunks_of(n)), KOKKOS_LAMBDA(size_t chunk) {
        const size_t first = chunk * kChunk;
        const int count = chunk_elements(n, first);
        uint32_t bits = ~0u;
        if (active) {
          bits = 0;
          for (int byte = 0; 8 * byte < count; ++byte) bits |= uint32_t(kept(first / 8 + byte)) << 8 * byte;
        }
        T keep[kChunk];
        keep_multipliers(bits, scale, keep);
        for_chunk<kChunk>(count, [&](int l) { f(first + l, keep[l]); });
      });
}
}  // namespace

template <class T>
void silu_dropout_forward(const View2<T>& h, const View2<T>& act, double p, uint64_t seed, uint64_t stream,
                          const View1<uint8_t>& kept) {
  KMOE_CHECK_EXTENTS_OF("silu_dropout_forward", act, long(h.extent(0)), long(h.extent(1)));
  require(h.span_is_contiguous() && act.span_is_contiguous(), "silu_dropout_forward needs contiguous views");
  const T* in = h.data();
  T* out = act.data();
  for_each_recording_dropout<T>(
      "silu_dropout_forward", h.span(), p, seed, stream, kept, KOKKOS_LAMBDA(size_t e, T keep) {
        const T v = in[e];
        out[e] = keep * (v / (T(1) + math::fast_exp(-v)));
      });
}

template <class T>
void silu_dropout_backward(const View2<T>& h, const View2<T>& dact, const View2<T>& dh, double p,
                           const View1<uint8_t>& kept) {
  KMOE_CHECK_EXTENTS_OF("silu_dropout_backward", dact, long(h.extent(0)), long(h.extent(1)));
  KMOE_CHECK_EXTENTS_OF("silu_dropout_backward", dh, long(h.extent(0)), long(h.extent(1)));
  require(h.span_is_contiguous() && dact.span_is_contiguous() && dh.span_is_contiguous(),
          "silu_dropout_backward needs contiguous views");
  const T* in = h.data();
  const T* grad = dact.data();
  T* out = dh.data();
  for_each_with_kept<T>(
      "silu_dropout_backward", h.span(), p, kept, KOKKOS_LAMBDA(size_t e, T keep) {
        const T v = in[e];
        const T s = T(1) / (T(1) + math::fast_exp(-v));
        out[e] = keep * grad[e] * s * (T(1) + v * (T(1) - s));
      });
}

template <class T>
void add_into(const View2<T>& y, const View2<T>& x) {
  KMOE_CHECK_EXTENTS_OF("add_into", x, long(y.extent(0)), long(y.extent(1)));
  Kokkos::parallel_for(
      "add_into", every_element(y), KOKKOS_LAMBDA(int i, int j) { y(i, j) += x(i, j); });
}

template <class T>
void dropout_forward(const View2<T>& x, double p, uint64_t seed, uint64_t stream, const View1<uint8_t>& kept) {
  if (p <= 0.0) return;
  require(x.span_is_contiguous(), "dropout_forward needs a contiguous view");
  T* data = x.data();
  for_each_recording_dropout<T>(
      "dropout_forward", x.span(), p, seed, stream, kept, KOKKOS_LAMBDA(size_t e, T keep) { data[e] *= keep; });
}

template <class T>
void dropout_backward(const View2<T>& x, double p, const View1<uint8_t>& kept) {
  if (p <= 0.0) return;
  require(x.span_is_contiguous(), "dropout_backward needs a contiguous view");
  T* data = x.data();
  for_each_with_kept<T>(
      "dropout_backward", x.span(), p, kept, KOKKOS_LAMBDA(size_t e, T keep) { data[e] *= keep; });
}

#define KMOE_INSTANTIATE(T)                                                                             \
  template void silu_dropout_forward<T>(const View2<T>&, const View2<T>&, double, uint64_t, uint64_t,   \
                                        const View1<uint8_t>&);                                         \
  template void silu_dropout_backward<T>(const View2<T>&, const View2<T>&, const View2<T>&, double,     \
                                         const View1<uint8_t>&);                                        \
  template void add_into<T>(const View2<T>&, const View2<T>&);                                          \
  template void dropout_forward<T>(const View2<T>&, double, uint64_t, uint64_t, const View1<uint8_t>&); \
  template void dropout_backward<T>(const View2<T>&, double, const View1<uint8_t>&);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
