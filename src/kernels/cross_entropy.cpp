#include "kernels/cross_entropy.hpp"

#include <algorithm>

#include "core/fast_exp.hpp"
#include "core/kokkos_compat.hpp"
#include "kernels/dense_gemm.hpp"

namespace kmoe::kernels {

template <class T>
CrossEntropyScratch<T>::CrossEntropyScratch(int chunk_rows, int vocab)
    : logits("ce_logits", chunk_rows, vocab),
      row_loss("ce_row_loss", chunk_rows),
      row_correct("ce_row_correct", chunk_rows),
      totals("ce_totals", 2),
      host_totals("ce_host_totals", 2) {}

template <class T>
CrossEntropySums tied_head_cross_entropy(const View2<T>& h, const View2<T>& embedding, const View1<int>& targets,
                                         const CrossEntropyScratch<T>& scratch, T grad_scale, const View2<T>& dh,
                                         const View2<T>& dembedding, Matmul matmul) {
  const int rows = static_cast<int>(h.extent(0));
  const int vocab = static_cast<int>(embedding.extent(0));
  const int chunk = static_cast<int>(scratch.logits.extent(0));
  const bool with_grad = dh.extent(0) > 0;
  const auto row_loss = scratch.row_loss;
  const auto row_correct = scratch.row_correct;
  CrossEntropySums sums;
  for (int begin = 0; begin < rows; begin += chunk) {
    const int end = std::min(rows, begin + chunk), count = end - begin;
    const auto rows_range = Kokkos::make_pair(begin, end);
    const View2<T> h_c = Kokkos::subview(h, rows_range, Kokkos::ALL());
    const View2<T> logits = Kokkos::subview(scratch.logits, Kokkos::make_pair(0, count), Kokkos::ALL());
    gemm<T>("N", "T", T(1), h_c, embedding, T(0), logits, matmul);
    Kokkos::parallel_for(
        "cross_entropy_rows", TeamPolicy(count, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
          const int r = team.league_rank();
          const int target = targets(begin + r);
          T max_logit = 0;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, vocab), [&](int v, T& m) { m = logits(r, v) > m ? logits(r, v) : m; },
              Kokkos::Max<T>(max_logit));
          int argmax = vocab;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, vocab),
              [&](int v, int& best) {
                if (logits(r, v) == max_logit && v < best) best = v;
              },
              Kokkos::Min<int>(argmax));
          const T target_logit = logits(r, target);
          team.team_barrier();
          T sum = 0;  // the row keeps exp(logit − max) so each element needs one exp
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, vocab),
              [&](int v, T& acc) {
                logits(r, v) = math::fast_exp(logits(r, v) - max_logit);
                acc += logits(r, v);
              },
              sum);
          const T lse = max_logit + math::log(sum), inv_sum = T(1) / sum;
          if (with_grad) {
            Kokkos::parallel_for(Kokkos::TeamThreadRange(team, vocab), [&](int v) {
              logits(r, v) = grad_scale * (logits(r, v) * inv_sum - (v == target ? T(1) : T(0)));
            });
          }
          Kokkos::single(Kokkos::PerTeam(team), [&]() {
            row_loss(r) = double(lse - target_logit);
            row_correct(r) = argmax == target ? 1 : 0;
          });
        });
    // One team adds the chunk's rows to the totals: a fixed order, and no wait for the host.
    const auto totals = scratch.totals;
    Kokkos::parallel_for(
        "cross_entropy_totals", TeamPolicy(1, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
          double loss = 0, correct = 0;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, count), [&](int r, double& acc) { acc += row_loss(r); }, loss);
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, count), [&](int r, double& acc) { acc += row_correct(r); }, correct);
          Kokkos::single(Kokkos::PerTeam(team), [&]() {
            totals(0) = (begin == 0 ? 0.0 : totals(0)) + loss;
            totals(1) = (begin == 0 ? 0.0 : totals(1)) + correct;
          });
        });
    if (with_grad) {
      const View2<T> dh_c = Kokkos::subview(dh, rows_range, Kokkos::ALL());
      gemm<T>("N", "N", T(1), logits, embedding, T(0), dh_c, matmul);
      gemm<T>("T", "N", T(1), logits, h_c, T(1), dembedding, matmul);
    }
  }
  if (rows > 0) {
    Kokkos::deep_copy(scratch.host_totals, scratch.totals);
    sums.loss_sum = scratch.host_totals(0);
    sums.correct = static_cast<int64_t>(scratch.host_totals(1));
  }
  return sums;
}

#define KMOE_INSTANTIATE(T)                                                                                 \
  template struct CrossEntropyScratch<T>;                                                                   \
  template CrossEntropySums tied_head_cross_entropy<T>(const View2<T>&, const View2<T>&, const View1<int>&, \
                                                       const CrossEntropyScratch<T>&, T, const View2<T>&,   \
                                                       const View2<T>&, Matmul);
KMOE_INSTANTIATE(float)
KMOE_INSTANTIATE(double)
#undef KMOE_INSTANTIATE

}  // namespace kmoe::kernels
