// Expert choice by hand: each expert's best tokens per group, the rows they get, the capacity.
#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "kernels/expert_choice.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

TEST(ExpertChoice, CapacityIsTopKTokensPerExpertAtFactorOne) {
  EXPECT_EQ(expert_choice_capacity(1.0, 128, 2, 4), 64);
  EXPECT_EQ(expert_choice_capacity(1.25, 10, 1, 4), 4);    // ⌈3.125⌉
  EXPECT_EQ(expert_choice_capacity(100.0, 10, 2, 4), 10);  // at most the group
}

TEST(ExpertChoice, EachExpertTakesItsBestTokensPerGroup) {
  // 4 tokens in 2 groups of 2, 2 experts, capacity 1: expert 0 prefers tokens 1 and 2, expert 1
  // tokens 0 and 3.
  View2<double> scores("scores", 4, 2);
  auto h = Kokkos::create_mirror_view(scores);
  const double values[] = {0.1, 0.9, 0.6, 0.4, 0.7, 0.3, 0.2, 0.8};
  for (int i = 0; i < 8; ++i) h.data()[i] = values[i];
  Kokkos::deep_copy(scores, h);
  ExpertAssignment assignment(2, 4, 8, 2);
  choose_tokens(scores, 2, 1, assignment);
  // Expert e's rows: e·2 + group; assignment a = token·2 + expert.
  EXPECT_EQ(to_vector(assignment.slot_of), (std::vector<double>{-1, 2, 0, -1, 1, -1, -1, 3}));
  EXPECT_EQ(to_vector(assignment.order), (std::vector<double>{2, 4, 1, 7}));
  EXPECT_EQ(to_vector(assignment.offsets), (std::vector<double>{0, 2, 4}));
  EXPECT_EQ(assignment.capacity, 2);
  // Equal scores: the lower token wins.
  Kokkos::deep_copy(scores, 0.5);
  choose_tokens(scores, 4, 1, assignment);
  const auto slots = to_vector(assignment.slot_of);
  EXPECT_EQ(slots[0], 0);
  EXPECT_EQ(slots[1], 1);
  for (int a = 2; a < 8; ++a) EXPECT_EQ(slots[a], -1);
}

}  // namespace
