#include "kernels/bf16_operands.hpp"

#include "core/views.hpp"
#include "kernels/matmul_precision.hpp"

namespace kmoe::kernels {

namespace {

// Grow-only scratch per slot and element type, released before Kokkos finalises.
template <class E>
View1<E>& scratch(OperandSlot slot, size_t elements) {
  static View1<E> buffers[2];
  static const bool hooked = [] {
    Kokkos::push_finalize_hook([] {
      for (auto& b : buffers) b = View1<E>();
    });
    return true;
  }();
  (void)hooked;
  View1<E>& buffer = buffers[int(slot)];
  if (buffer.extent(0) < elements) {
    buffer = View1<E>();  // release before allocating the larger one
    buffer = View1<E>(Kokkos::view_alloc(Kokkos::WithoutInitializing, "bf16_operand"), elements);
  }
  return buffer;
}

}  // namespace

template <class T>
const T* rounded_operand(const T* p, size_t elements, OperandSlot slot) {
  T* out = scratch<T>(slot, elements).data();
  Kokkos::parallel_for(
      "round_operand_to_bf16", Range(0, elements), KOKKOS_LAMBDA(size_t i) { out[i] = T(round_to_bf16(float(p[i]))); });
  return out;
}

const uint16_t* bf16_operand(const float* p, size_t elements, OperandSlot slot) {
  uint16_t* out = scratch<uint16_t>(slot, elements).data();
  Kokkos::parallel_for(
      "operand_to_bf16", Range(0, elements), KOKKOS_LAMBDA(size_t i) { out[i] = bf16_bits(p[i]); });
  return out;
}

template const float* rounded_operand<float>(const float*, size_t, OperandSlot);
template const double* rounded_operand<double>(const double*, size_t, OperandSlot);

}  // namespace kmoe::kernels
