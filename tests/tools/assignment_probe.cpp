// Runs the routing families that assign rows beyond plain top-k (expert choice, Sinkhorn, the
// capacity drop policies) in double on given logits and prints what they computed, for
// tests/python/test_assignment_reference.py to compare with an independent implementation.
// stdin: family tokens experts k score gate_norm route_scale, then
//   expert_choice: group_tokens capacity_factor; logits [tokens × experts]; ∂L/∂gates [tokens × experts]
//   sinkhorn:      logits
//   drop:          capacity_factor policy(position|probability) renorm(0|1); logits; ∂L/∂gates [tokens × k]
// stdout: one line per quantity, "name v1 v2 …".
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

#include "core/views.hpp"
#include "kernels/capacity_drop.hpp"
#include "kernels/expert_choice.hpp"
#include "kernels/router.hpp"
#include "kernels/sinkhorn.hpp"
#include "probe_io.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

void run(const std::string& family, int tokens, int experts, int k, const RouterRule& rule) {
  const int slots = family == "expert_choice" ? experts : k;
  RouterState<double> state(tokens, experts, slots, rule.score == ScoreFunction::sigmoid);
  const View1<double> no_bias("bias", experts);
  const View2<double> dlogits("dlogits", tokens, experts);
  if (family == "sinkhorn") {
    read_into(state.logits);
    const View1<double> bias("sinkhorn_bias", experts);
    const SinkhornWorkspace<double> workspace(tokens, experts);
    sinkhorn_selection_bias(state.logits, bias, workspace);
    router_forward(state, RouterNoise{}, bias, rule);
    print("bias", bias);
    print("top_idx", state.top_idx);
    print("gates", state.gates);
    return;
  }
  if (family == "expert_choice") {
    int group_tokens = 0;
    double factor = 0;
    std::cin >> group_tokens >> factor;
    const int capacity = expert_choice_capacity(factor, group_tokens, k, experts);
    ExpertAssignment assignment(experts, experts * (tokens / group_tokens) * capacity, tokens * experts, experts);
    const View2<double> dgates("dgates", tokens, experts);
    read_into(state.logits);
    read_into(dgates);
    router_forward(state, RouterNoise{}, no_bias, rule);
    choose_tokens(state.scores, group_tokens, capacity, assignment);
    // Unchosen (token, expert) pairs carry no gate gradient (combine_backward gives them 0).
    const auto slot_of = assignment.slot_of;
    Kokkos::parallel_for(
        "mask_unchosen", Range(0, tokens * experts), KOKKOS_LAMBDA(int a) {
          if (slot_of(a) < 0) dgates(a / experts, a % experts) = 0;
        });
    router_backward(state, dgates, View2<double>("fractions", 1, experts), 0.0, 0.0, dlogits, rule);
    print("slot_of", assignment.slot_of);
    print("gates", state.gates);
    print("dlogits", dlogits);
    return;
  }
  double factor = 0;
  std::string policy;
  int renorm = 0;
  std::cin >> factor >> policy >> renorm;
  const View2<double> dgates("dgates", tokens, k), kept_gates("kept_gates", tokens, k);
  read_into(state.logits);
  read_into(dgates);
  router_forward(state, RouterNoise{}, no_bias, rule);
  ExpertAssignment assignment(experts, tokens * k, tokens * k, k);
  KeyGroupingWorkspace grouping;
  assign_experts(View1<int>(state.top_idx.data(), tokens * k), int(std::ceil(factor * tokens * k / experts)),
                 assignment, grouping);
  if (policy == "probability") order_by_gate(state.gates, assignment, View1<int>("scratch", tokens * k));
  if (renorm) {
    renormalise_kept_gates_forward(state.gates, assignment, rule.route_scale, kept_gates);
    print("kept_gates", kept_gates);
    renormalise_kept_gates_backward(state.gates, assignment, rule.route_scale, dgates);
  }
  router_backward(state, dgates, View2<double>("fractions", 1, experts), 0.0, 0.0, dlogits, rule);
  print("top_idx", state.top_idx);
  print("slot_of", assignment.slot_of);
  print("dlogits", dlogits);
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::initialize(argc, argv);
  {
    std::string family, score, norm;
    int tokens = 0, experts = 0, k = 0;
    double route_scale = 0;
    std::cin >> family >> tokens >> experts >> k >> score >> norm >> route_scale;
    const RouterRule rule{family == "expert_choice" ? Routing::expert_choice
                          : family == "sinkhorn"    ? Routing::sinkhorn
                                                    : Routing::token_choice,
                          score == "sigmoid" ? ScoreFunction::sigmoid : ScoreFunction::softmax,
                          norm == "none" ? GateNorm::none : GateNorm::selected,
                          route_scale,
                          1,
                          1,
                          GroupScore::max};
    run(family, tokens, experts, k, rule);
  }
  Kokkos::finalize();
  return 0;
}
