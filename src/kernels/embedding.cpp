#include "kernels/embedding.hpp"

#include "core/extent_check.hpp"
namespace kmoe::kernels {

template <class T>
void embedding_forward(const View1<int>& tokens, const View2<T>& table, T scale, const View2<T>& out) {
  KMOE_CHECK_EXTENTS_OF("embedding_forward", out, long(tokens.extent(0)), long(table.extent(1)));
  const int d = static_cast<int>(table.extent(1));
  Kokkos::parallel_for(
      "embedding_forward", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {int(out.extent(0)), d}),
      KOKKOS_LAMBDA(int n, int j) { out(n, j) = scale * table(tokens(n), j); });
}

template <class T>
void embedding_backward(const View1<int>& offsets, const View1<int>& order, const View2<T>& dout, T scale,
                        const View2<T>& dtable) {
  const int vocab = static_cast<int>(dtable.extent(0)), d = static_cast<int>(dtable.extent(1));
  Kokkos::parallel_for(
      "embedding_backward", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {vocab, d}),
      KOKKOS_LAMBDA(int v, int j) {
        const int begin = offsets(v), end = offsets(v + 1);
        if (begin == end) return;
        T sum = 0;
        for (int i = begin; i < end; ++i) sum += dout(order(i), j);
        dtable(v, j) += scale * sum;
      });
}

template void embedding_forward<float>(const View1<int>&, const View2<float>&, float, const View2<float>&);
template void embedding_forward<double>(const View1<int>&, const View2<double>&, double, const View2<double>&);
template void embedding_backward<float>(const View1<int>&, const View1<int>&, const View2<float>&, float,
                                        const View2<float>&);
template void embedding_backward<double>(const View1<int>&, const View1<int>&, const View2<double>&, double,
                                         const View2<double>&);

}  // namespace kmoe::kernels
