// A sum in double whose bits do not depend on the backend or the thread count: the terms are
// summed in fixed blocks of kBlock, each block in order by one thread, then the block sums in
// order. A plain parallel_reduce combines per-thread partial sums, so its last bits move with
// the number of threads; a norm feeding clipping or Newton–Schulz would carry that into the
// weights.
#pragma once

#include <cstddef>
#include <vector>

#include "core/views.hpp"

namespace kmoe {

class OrderedSum {
 public:
  static constexpr size_t kBlock = 4096;

  static size_t blocks(size_t n) { return (n + kBlock - 1) / kBlock; }

  // sums(e) = Σ term(e, i) for i < n, for every e < count, on the device and without a sync:
  // entry e's bits are those of the sum of its terms alone.
  template <class Term>
  void each(const char* name, int count, size_t n, const Term& term, const View1<double>& sums) {
    const size_t blocks = OrderedSum::blocks(n), total_blocks = blocks * size_t(count);
    if (partials_.extent(0) < total_blocks) partials_ = View1<double>("ordered_sum_partials", total_blocks);
    const auto partials = partials_;
    Kokkos::parallel_for(
        name, Range(0, total_blocks), KOKKOS_LAMBDA(size_t eb) {
          const int e = int(eb / blocks);
          const size_t b = eb % blocks, end = (b + 1) * kBlock < n ? (b + 1) * kBlock : n;
          double acc = 0;
          for (size_t i = b * kBlock; i < end; ++i) acc += term(e, i);
          partials(eb) = acc;
        });
    Kokkos::parallel_for(
        "ordered_sum_of_blocks_each", Range(0, count), KOKKOS_LAMBDA(int e) {
          double acc = 0;
          for (size_t b = 0; b < blocks; ++b) acc += partials(size_t(e) * blocks + b);
          sums(e) = acc;
        });
  }

  // The sums of blocks [first, end) of Σ term(i), i < n (term(i) returns a double): the whole sum
  // is every block's sum added in block order, so ranks may each sum some blocks and one adds them
  // all. The scratch grows on first use only.
  template <class Term>
  std::vector<double> block_sums(const char* name, size_t first, size_t end, size_t n, const Term& term) {
    if (partials_.extent(0) < end - first) partials_ = View1<double>("ordered_sum_partials", end - first);
    const auto partials = partials_;
    Kokkos::parallel_for(
        name, Range(first, end), KOKKOS_LAMBDA(size_t b) {
          const size_t stop = (b + 1) * kBlock < n ? (b + 1) * kBlock : n;
          double acc = 0;
          for (size_t i = b * kBlock; i < stop; ++i) acc += term(i);
          partials(b - first) = acc;
        });
    std::vector<double> out(end - first);
    const auto host = Kokkos::create_mirror_view_and_copy(
        HostSpace(), Kokkos::subview(partials_, std::make_pair(size_t(0), end - first)));
    for (size_t b = 0; b < out.size(); ++b) out[b] = host(b);
    return out;
  }

 private:
  View1<double> partials_;
};

}  // namespace kmoe
