// The shared experts' mix with the routed output: values by hand for each rule and the backward
// by finite differences (the gate's sigmoid included).
#include <gtest/gtest.h>

#include <cmath>

#include "gradient_check.hpp"
#include "kernels/shared_expert_mix.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

constexpr int kTokens = 3, kDim = 4, kTopK = 2;

TEST(SharedExpertMix, EachRuleByHand) {
  View2<double> shared("shared", 1, 2), gate("gate", 1, 1), out("out", 1, 2);
  const auto set = [](const View2<double>& v, std::initializer_list<double> values) {
    auto h = Kokkos::create_mirror_view(v);
    int i = 0;
    for (double x : values) h.data()[i++] = x;
    Kokkos::deep_copy(v, h);
  };
  set(shared, {2, 4});
  set(out, {1, 1});
  shared_expert_mix_forward(SharedGate::none, kTopK, shared, gate, out);
  EXPECT_EQ(to_vector(out), (std::vector<double>{3, 5}));
  set(out, {1, 1});
  shared_expert_mix_forward(SharedGate::convex, kTopK, shared, gate, out);  // ⅔ routed + ⅓ shared
  EXPECT_NEAR(to_vector(out)[0], 2.0 / 3 + 2.0 / 3, 1e-15);
  EXPECT_NEAR(to_vector(out)[1], 2.0 / 3 + 4.0 / 3, 1e-15);
  set(out, {1, 1});
  set(gate, {std::log(3.0)});  // σ(log 3) = ¾
  shared_expert_mix_forward(SharedGate::sigmoid, kTopK, shared, gate, out);
  EXPECT_NEAR(to_vector(out)[0], 1 + 0.75 * 2, 1e-15);
  EXPECT_NEAR(to_vector(gate)[0], 0.75, 1e-15);  // kept for the backward
}

TEST(KernelGradients, SharedExpertMixEveryRule) {
  for (const auto rule : {SharedGate::none, SharedGate::sigmoid, SharedGate::convex}) {
    View2<double> routed("routed", kTokens, kDim), shared("shared", kTokens, kDim), logits("logits", kTokens, 1);
    View2<double> out("out", kTokens, kDim), gate("gate", kTokens, 1), dout("dout", kTokens, kDim);
    View2<double> dshared("dshared", kTokens, kDim), dgate("dgate", kTokens, 1);
    fill_normal(routed, 3);
    fill_normal(shared, 4);
    fill_normal(logits, 5);
    const auto loss = [&] {
      Kokkos::deep_copy(out, routed);
      Kokkos::deep_copy(gate, logits);
      shared_expert_mix_forward(rule, kTopK, shared, gate, out);
      return weighted_sum(out);
    };
    loss();
    weighted_sum_grad(dout);
    shared_expert_mix_backward(rule, kTopK, shared, gate, dout, dshared, dgate);  // dout → ∂L/∂routed
    EXPECT_LT(fd_relative_error(routed, to_vector(dout), loss), 1e-7) << int(rule);
    EXPECT_LT(fd_relative_error(shared, to_vector(dshared), loss), 1e-7) << int(rule);
    if (rule == SharedGate::sigmoid) {
      EXPECT_LT(fd_relative_error(logits, to_vector(dgate), loss), 1e-7);
    }
  }
}

}  // namespace
