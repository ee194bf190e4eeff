#include "kernels/cross_entropy.hpp"

#include "core/kokkos_compat.hpp"
#include "kernels/dense_gemm.hpp"

#include <algorithm>

namespace kmoe::kernels {

template <class T>
CrossEntropySums tied_head_cross_entropy(const View2<T>& h, const View2<T>& embedding,
                                         const View1<int>& targets, const View2<T>& logits_chunk,
                                         T grad_scale, const View2<T>& dh, const View2<T>& dembedding) {
  const int rows = static_cast<int>(h.extent(0));
  const int vocab = static_cast<int>(embedding.extent(0));
  const int chunk = static_cast<int>(logits_chunk.extent(0));
  const bool with_grad = dh.extent(0) > 0;
  CrossEntropySums sums;
  for (int begin = 0; begin < rows; begin += chunk) {
    const int end = std::min(rows, begin + chunk);
    const auto rows_range = Kokkos::make_pair(begin, end);
    const View2<T> h_c = Kokkos::subview(h, rows_range, Kokkos::ALL());
    const View2<T> logits = Kokkos::subview(logits_chunk, Kokkos::make_pair(0, end - begin), Kokkos::ALL());
    gemm<T>("N", "T", T(1), h_c, embedding, T(0), logits);
    double loss = 0;
    int64_t correct = 0;
    Kokkos::parallel_reduce(
        "cross_entropy_rows", TeamPolicy(end - begin, Kokkos::AUTO),
        KOKKOS_LAMBDA(const Member& team, double& loss_acc, int64_t& correct_acc) {
          const int r = team.league_rank();
          const int target = targets(begin + r);
          T max_logit = 0;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, vocab),
              [&](int v, T& m) { m = math::fmax(m, logits(r, v)); }, Kokkos::Max<T>(max_logit));
          int argmax = vocab;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, vocab),
              [&](int v, int& best) {
                if (logits(r, v) == max_logit && v < best) best = v;
              },
              Kokkos::Min<int>(argmax));
          T sum = 0;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, vocab),
              [&](int v, T& acc) { acc += math::exp(logits(r, v) - max_logit); }, sum);
          const T lse = max_logit + math::log(sum);
          const T target_logit = logits(r, target);
          team.team_barrier();
          if (with_grad) {
            Kokkos::parallel_for(Kokkos::TeamThreadRange(team, vocab), [&](int v) {
              const T p = math::exp(logits(r, v) - lse);
              logits(r, v) = grad_scale * (p - (v == target ? T(1) : T(0)));
            });
          }
          Kokkos::single(Kokkos::PerTeam(team), [&]() {
            loss_acc += double(lse - target_logit);
            correct_acc += (argmax == target) ? 1 : 0;
          });
        },
        loss, correct);
    sums.loss_sum += loss;
    sums.correct += correct;
    if (with_grad) {
      const View2<T> dh_c = Kokkos::subview(dh, rows_range, Kokkos::ALL());
      gemm<T>("N", "N", T(1), logits, embedding, T(0), dh_c);
      gemm<T>("T", "N", T(1), logits, h_c, T(1), dembedding);
    }
  }
  return sums;
}

template CrossEntropySums tied_head_cross_entropy<float>(const View2<float>&, const View2<float>&,
                                                         const View1<int>&, const View2<float>&, float,
                                                         const View2<float>&, const View2<float>&);
template CrossEntropySums tied_head_cross_entropy<double>(const View2<double>&, const View2<double>&,
                                                          const View1<int>&, const View2<double>&, double,
                                                          const View2<double>&, const View2<double>&);

}  // namespace kmoe::kernels
