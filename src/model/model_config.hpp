// The model's architecture, built from the deck by train/deck_settings (model_config_from_deck),
// which holds no defaults of its own.
#pragma once

#include <cstdint>

#include "kernels/capacity_drop.hpp"
#include "kernels/expert_choice.hpp"
#include "kernels/matmul_precision.hpp"
#include "kernels/router.hpp"
#include "kernels/router_losses.hpp"
#include "kernels/shared_expert_mix.hpp"

namespace kmoe {

struct ModelConfig {
  int vocab_size;
  int d_model;
  int n_layers;
  int n_heads;
  int seq_len;
  bool moe;  // false: dense FFN baseline
  int d_ff;  // dense FFN width
  bool weight_sharing;
  double dropout;
  double norm_eps;
  double rope_base;
  double init_std;
  int num_experts;
  int top_k;
  int expert_d_ff;
  double capacity_factor;           // 0 = dropless
  kernels::DropPolicy drop_policy;  // moe.drop_policy
  bool renorm_after_drop;           // moe.renorm_after_drop
  bool expert_choice_per_sequence;  // moe.expert_choice_group = "sequence"
  bool balanced_hash_table;         // moe.hash_table = "balanced"
  double noise_std;
  bool router_muon;
  int shared_experts;  // always-on experts beside the routed ones (moe.shared_experts)
  int shared_d_ff;     // the width of each (moe.shared_expert_d_ff, 0 resolved to expert_d_ff)
  kernels::SharedGate shared_gate;
  kernels::RouterRule router_rule;      // moe.score, gate_norm, route_scale, groups, group_topk, group_score
  kernels::LoadFractions lb_fractions;  // moe.load_balancing_fractions
  kernels::BalanceLayers lb_layers;     // moe.load_balancing_layers
  kernels::BalanceScope lb_scope;       // moe.load_balancing_scope
  kernels::Matmul matmul;               // train.precision: the products' operands (not the router's)

  int head_dim() const { return d_model / n_heads; }
  // The shared experts as one FFN of their summed width (DeepSeek builds them so: it is the same sum).
  int shared_width() const { return moe ? shared_experts * shared_d_ff : 0; }
  int parameter_blocks() const { return weight_sharing ? 1 : n_layers; }
  kernels::Routing routing() const { return router_rule.routing; }
  bool has_router() const { return moe && routing() != kernels::Routing::hash; }
  // Assignment slots per token: one per expert under expert choice, else top_k.
  int slots() const { return routing() == kernels::Routing::expert_choice ? num_experts : top_k; }
  // Expert choice: the tokens an expert chooses among (a sequence or the micro-batch) and how many.
  int choice_group_tokens(int tokens) const { return expert_choice_per_sequence ? seq_len : tokens; }
  int choice_capacity(int tokens) const {
    return kernels::expert_choice_capacity(capacity_factor, choice_group_tokens(tokens), top_k, num_experts);
  }
  // Rows of the grouped expert buffers for `tokens` tokens.
  int routed_rows(int tokens) const {
    if (routing() != kernels::Routing::expert_choice) return tokens * top_k;
    return num_experts * (tokens / choice_group_tokens(tokens)) * choice_capacity(tokens);
  }
};

}  // namespace kmoe
