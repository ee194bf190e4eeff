// The capacity drop policies by hand, and the renormalisation's backward by finite differences.
#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "kernels/capacity_drop.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

constexpr int kTokens = 4, kExperts = 2, kTopK = 2;

template <class V, class Values>
void set(const V& view, const Values& values) {
  auto h = Kokkos::create_mirror_view(view);
  for (size_t i = 0; i < values.size(); ++i) h.data()[i] = values[i];
  Kokkos::deep_copy(view, h);
}

// Every token picks both experts; gates (token, slot): expert 0 gets a = 0, 2, 4, 6 with gates
// 0.2, 0.9, 0.5, 0.9 and keeps 2 of them.
struct Example {
  View2<double> gates{"gates", kTokens, kTopK};
  ExpertAssignment assignment{kExperts, kTokens* kTopK, kTokens* kTopK, kTopK};
  Example() {
    set(gates, std::vector<double>{0.2, 0.8, 0.9, 0.1, 0.5, 0.5, 0.9, 0.1});
    View1<int> expert_of("expert_of", kTokens * kTopK);
    set(expert_of, std::vector<int>{0, 1, 0, 1, 0, 1, 0, 1});
    KeyGroupingWorkspace workspace;
    assign_experts(expert_of, 2, assignment, workspace);
  }
  std::vector<int> kept() const {
    const auto slots = to_vector(assignment.slot_of);
    std::vector<int> out;
    for (size_t a = 0; a < slots.size(); ++a)
      if (slots[a] >= 0) out.push_back(int(a));
    return out;
  }
};

TEST(CapacityDrop, PositionKeepsTheEarliestAndProbabilityTheHighestGates) {
  Example position;
  EXPECT_EQ(position.kept(), (std::vector<int>{0, 1, 2, 3}));
  Example probability;
  order_by_gate(probability.gates, probability.assignment, View1<int>("scratch", kTokens * kTopK));
  // Expert 0: gates 0.9 (a = 2) and 0.9 (a = 6), the tie kept in assignment order; expert 1: 0.8
  // (a = 1) and 0.5 (a = 5).
  EXPECT_EQ(probability.kept(), (std::vector<int>{1, 2, 5, 6}));
}

TEST(CapacityDrop, RenormalisedGatesByHand) {
  Example position;
  View2<double> kept("kept", kTokens, kTopK);
  renormalise_kept_gates_forward(position.gates, position.assignment, 2.0, kept);
  // Tokens 0 and 1 keep both gates (sums 1.0): unchanged × 2; tokens 2 and 3 keep none.
  EXPECT_EQ(to_vector(kept), (std::vector<double>{0.4, 1.6, 1.8, 0.2, 0, 0, 0, 0}));
  Example probability;
  order_by_gate(probability.gates, probability.assignment, View1<int>("scratch", kTokens * kTopK));
  renormalise_kept_gates_forward(probability.gates, probability.assignment, 1.0, kept);
  const auto v = to_vector(kept);
  EXPECT_EQ(v[1], 1.0);  // token 0 keeps only its 0.8: renormalised to 1
  EXPECT_EQ(v[0], 0.0);
}

TEST(CapacityDrop, ATokenIsUnroutedWhenNoneOfItsAssignmentsIsKept) {
  View1<double> summary("summary", 2);
  Example position;  // tokens 2 and 3 lose both assignments
  count_unrouted_tokens(position.assignment, summary, 1);
  EXPECT_EQ(to_vector(summary), (std::vector<double>{0, 2}));
  Example probability;  // every token keeps one
  order_by_gate(probability.gates, probability.assignment, View1<int>("scratch", kTokens * kTopK));
  count_unrouted_tokens(probability.assignment, summary, 0);
  EXPECT_EQ(to_vector(summary), (std::vector<double>{0, 2}));
}

TEST(KernelGradients, RenormalisedKeptGates) {
  Example example;  // position: tokens 0 and 1 keep both gates, 2 and 3 none
  View2<double> gates("free_gates", kTokens, kTopK), kept("kept", kTokens, kTopK), dgates("dgates", kTokens, kTopK);
  set(gates, std::vector<double>{0.3, 0.7, 0.45, 0.2, 0.6, 0.35, 0.25, 0.5});
  const auto loss = [&] {
    renormalise_kept_gates_forward(gates, example.assignment, 1.7, kept);
    return weighted_sum(kept);
  };
  loss();
  weighted_sum_grad(dgates);
  renormalise_kept_gates_backward(gates, example.assignment, 1.7, dgates);
  EXPECT_LT(fd_relative_error(gates, to_vector(dgates), loss), 1e-7);
}

}  // namespace
