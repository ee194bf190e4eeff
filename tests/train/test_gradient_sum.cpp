// The update's gradient sum: its tree over micro-batch blocks, and the rank counts it allows.
#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "train/gradient_sum.hpp"

using namespace kmoe;
using namespace kmoe::testing;

namespace {

TEST(GradientSum, AllowedRankCountsArePowersOfTwoDividingGradAccum) {
  EXPECT_EQ(allowed_rank_counts(1), (std::vector<int>{1}));
  EXPECT_EQ(allowed_rank_counts(12), (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(rank_count_problem(12, 4), "");
  const auto problem = rank_count_problem(6, 3);
  EXPECT_NE(problem.find("3 ranks cannot split train.grad_accum = 6"), std::string::npos) << problem;
  EXPECT_NE(problem.find("allowed: 1, 2"), std::string::npos) << problem;
}

// Four micro-batches of one value each, chosen so that the fold ((a + b) + c) + d and the tree
// (a + b) + (c + d) round differently in float: the sum must be the tree's.
TEST(GradientSum, BlocksAreAddedInATreeAndABlockAccumulatesInPlace) {
  const float values[4] = {1.0f, 1e8f, -1e8f, 1.0f};
  View1<float> grads("grads", 1);
  GradientSum sum(grads, 4, Communicator::world(), {ElementRange{0, 1}});
  ASSERT_EQ(sum.count(), 4);
  for (int i = 0; i < 4; ++i) {
    sum.before_backward(i);
    Kokkos::deep_copy(grads, values[i]);  // this micro-batch's backward
    sum.after_backward(i);
  }
  sum.finish();
  const float tree = (values[0] + values[1]) + (values[2] + values[3]);
  const float fold = ((values[0] + values[1]) + values[2]) + values[3];
  ASSERT_NE(tree, fold);
  EXPECT_EQ(to_vector(grads)[0], tree);
  // grad_accum = 3 is one block of three: the backward passes accumulate in place.
  GradientSum odd(grads, 3, Communicator::world(), {ElementRange{0, 1}});
  for (int i = 0; i < 3; ++i) {
    odd.before_backward(i);
    auto host = Kokkos::create_mirror_view_and_copy(HostSpace(), grads);
    host(0) += values[i + 1];
    Kokkos::deep_copy(grads, host);
    odd.after_backward(i);
  }
  odd.finish();
  EXPECT_EQ(to_vector(grads)[0], (values[1] + values[2]) + values[3]);
}

}  // namespace
