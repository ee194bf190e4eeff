#include "kernels/dense_gemm.hpp"

#include <KokkosBlas3_gemm.hpp>
#include <string>

#include "core/error.hpp"
#include "core/kernel_census.hpp"
#include "core/kokkos_compat.hpp"
#include "kernels/batched_gemm.hpp"

namespace kmoe::kernels {

template <class T>
void gemm(const char* op_a, const char* op_b, T alpha, const View2<T>& a, const View2<T>& b, T beta, const View2<T>& c,
          Matmul matmul) {
  const bool ta = op_a[0] == 'T', tb = op_b[0] == 'T';
  const size_t m = ta ? a.extent(1) : a.extent(0), k = ta ? a.extent(0) : a.extent(1);
  const size_t kb = tb ? b.extent(1) : b.extent(0), n = tb ? b.extent(0) : b.extent(1);
  // The tiles read raw pointers: a shape mistake must be an error, not a read past a buffer.
  if (m != c.extent(0) || n != c.extent(1) || k != kb) {
    throw Error("gemm: op(A) is " + std::to_string(m) + "x" + std::to_string(k) + " (A " + std::to_string(a.extent(0)) +
                "x" + std::to_string(a.extent(1)) + ", " + op_a + "), op(B) is " + std::to_string(kb) + "x" +
                std::to_string(n) + " (B " + std::to_string(b.extent(0)) + "x" + std::to_string(b.extent(1)) + ", " +
                op_b + "), C is " + std::to_string(c.extent(0)) + "x" + std::to_string(c.extent(1)) +
                ": the shapes do not agree");
  }
  if (c.extent(0) == 0 || c.extent(1) == 0) return;
  if (k == 0) {  // BLAS would be asked for a zero inner dimension: C = beta·C
    if (beta == T(0)) Kokkos::deep_copy(c, T(0));
    return;
  }
  // On the host every product is kmoe's tiles of single-threaded BLAS calls (batched_gemm with
  // one entry), so its bits do not depend on the thread count; bf16 operands take that path too.
  const bool host = Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace, MemSpace>::accessible;
  if (host || matmul == Matmul::bf16) {
    batched_gemm<T>(ta, tb, int(c.extent(0)), int(c.extent(1)), int(k), alpha, a.data(), int(a.stride(0)), b.data(),
                    int(b.stride(0)), beta, c.data(), int(c.stride(0)), {1, 0, 0, 0}, CausalPart::all, matmul);
    return;
  }
  count_blas_call();
  KokkosBlas::gemm(op_a, op_b, alpha, a, b, beta, c);
}

template <class T>
void linear_forward(const View2<T>& x, const View2<T>& w, const View2<T>& y, T beta, Matmul matmul) {
  gemm<T>("N", "T", T(1), x, w, beta, y, matmul);
}

template <class T>
void linear_backward_input(const View2<T>& dy, const View2<T>& w, const View2<T>& dx, T beta, Matmul matmul) {
  gemm<T>("N", "N", T(1), dy, w, beta, dx, matmul);
}

template <class T>
void linear_backward_weight(const View2<T>& dy, const View2<T>& x, const View2<T>& dw, Matmul matmul) {
  gemm<T>("T", "N", T(1), dy, x, T(1), dw, matmul);
}

#define KMOE_INSTANTIATE(T)                                                                                         \
  template void gemm<T>(const char*, const char*, T, const View2<T>&, const View2<T>&, T, const View2<T>&, Matmul); \
  template void linear_forward<T>(const View2<T>&, const View2<T>&, const View2<T>&, T, Matmul);                    \
  template void linear_backward_input<T>(const View2<T>&, const View2<T>&, const View2<T>&, T, Matmul);             \
  template void linear_backward_weight<T>(const View2<T>&, const View2<T>&, const View2<T>&, Matmul);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
