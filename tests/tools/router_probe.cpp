// Runs the router kernels in double on given logits and prints what they computed, for
// tests/python/test_router_reference.py to compare with an independent implementation.
// stdin: tokens experts k score(softmax|sigmoid) gate_norm(selected|none) route_scale groups group_topk
// group_score(max|topk_sum) fractions(per_pick|per_token|first_choice) balance_groups lb_coef z_coef
// (balance_groups > 1: f and P̄ per group of consecutive tokens, the sequences),
// then the bias [experts], the logits [tokens × experts] and ∂L/∂gates [tokens × k].
// stdout: one line per quantity, "name v1 v2 …".
#include <cstdio>
#include <iostream>
#include <string>

#include "core/views.hpp"
#include "kernels/router.hpp"
#include "kernels/router_losses.hpp"
#include "kernels/token_grouping.hpp"
#include "probe_io.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

int main(int argc, char** argv) {
  Kokkos::initialize(argc, argv);
  {
    int tokens = 0, experts = 0, k = 0;
    int groups = 1, group_topk = 1, balance_groups = 1;
    std::string score, norm, group_score, fraction_rule;
    double route_scale = 0, lb_coef = 0, z_coef = 0;
    std::cin >> tokens >> experts >> k >> score >> norm >> route_scale >> groups >> group_topk >> group_score >>
        fraction_rule >> balance_groups >> lb_coef >> z_coef;
    const RouterRule rule{Routing::token_choice,
                          score == "sigmoid" ? ScoreFunction::sigmoid : ScoreFunction::softmax,
                          norm == "none" ? GateNorm::none : GateNorm::selected,
                          route_scale,
                          groups,
                          group_topk,
                          group_score == "topk_sum" ? GroupScore::topk_sum : GroupScore::max};
    RouterState<double> state(tokens, experts, k, rule.score == ScoreFunction::sigmoid);
    View1<double> bias("bias", experts);
    View2<double> dgates("dgates", tokens, k), dlogits("dlogits", tokens, experts);
    read_into(bias);
    read_into(state.logits);
    read_into(dgates);
    router_forward(state, RouterNoise{}, bias, rule);
    View1<int> offsets("offsets", experts + 1), order("order", tokens * k);
    group_by_key(View1<int>(state.top_idx.data(), tokens * k), experts, offsets, order);
    const BalanceStatistics<double> balance{View2<double>("fractions", balance_groups, experts),
                                            View2<double>("group_mean_probs", balance_groups, experts),
                                            View1<double>("mean_probs", experts)};
    const auto convention = fraction_rule == "per_token"      ? LoadFractions::per_token
                            : fraction_rule == "first_choice" ? LoadFractions::first_choice
                                                              : LoadFractions::per_pick;
    const auto losses = router_losses(state, offsets, convention, balance);
    router_backward(state, dgates, balance.fractions, lb_coef, z_coef, dlogits, rule);
    print("top_idx", state.top_idx);
    print("gates", state.gates);
    print("fractions", balance.fractions);
    std::printf("load_balancing %.17g\nz_loss %.17g\nentropy %.17g\n", losses.load_balancing, losses.z_loss,
                losses.entropy);
    print("dlogits", dlogits);
  }
  Kokkos::finalize();
  return 0;
}
