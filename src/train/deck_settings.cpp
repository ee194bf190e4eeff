#include "train/deck_settings.hpp"

namespace kmoe {

ModelConfig model_config_from_deck(const RunDeck& deck) {
  const auto& m = deck.model;
  const auto& e = deck.moe;
  ModelConfig c;
  c.vocab_size = static_cast<int>(m.vocab_size);
  c.d_model = static_cast<int>(m.d_model);
  c.n_layers = static_cast<int>(m.n_layers);
  c.n_heads = static_cast<int>(m.n_heads);
  c.seq_len = static_cast<int>(m.seq_len);
  c.moe = m.ffn == "moe";
  c.d_ff = static_cast<int>(m.d_ff);
  c.weight_sharing = m.weight_sharing;
  c.dropout = m.dropout;
  c.norm_eps = m.norm_eps;
  c.rope_base = m.rope_base;
  c.init_std = m.init_std;
  c.num_experts = static_cast<int>(e.num_experts);
  c.top_k = static_cast<int>(e.top_k);
  c.expert_d_ff = static_cast<int>(e.expert_d_ff);
  c.capacity_factor = e.capacity_factor;
  c.noise_std = e.noise_std;
  c.drop_policy = e.drop_policy == "probability" ? kernels::DropPolicy::probability : kernels::DropPolicy::position;
  c.renorm_after_drop = e.renorm_after_drop;
  c.expert_choice_per_sequence = e.expert_choice_group == "sequence";
  c.balanced_hash_table = e.hash_table == "balanced";
  c.router_muon = e.router_muon;
  c.shared_experts = static_cast<int>(e.shared_experts);
  c.shared_d_ff = static_cast<int>(e.shared_expert_d_ff > 0 ? e.shared_expert_d_ff : e.expert_d_ff);
  c.shared_gate = e.shared_gate == "sigmoid"  ? kernels::SharedGate::sigmoid
                  : e.shared_gate == "convex" ? kernels::SharedGate::convex
                                              : kernels::SharedGate::none;
  c.router_rule =
      kernels::RouterRule{e.routing == "random"          ? kernels::Routing::random
                          : e.routing == "expert_choice" ? kernels::Routing::expert_choice
                          : e.routing == "hash"          ? kernels::Routing::hash
                          : e.routing == "sinkhorn"      ? kernels::Routing::sinkhorn
                                                         : kernels::Routing::token_choice,
                          e.score == "sigmoid" ? kernels::ScoreFunction::sigmoid : kernels::ScoreFunction::softmax,
                          e.gate_norm == "none" ? kernels::GateNorm::none : kernels::GateNorm::selected,
                          e.route_scale,
                          static_cast<int>(e.groups),
                          static_cast<int>(e.group_topk),
                          e.group_score == "topk_sum" ? kernels::GroupScore::topk_sum : kernels::GroupScore::max};
  c.lb_fractions = e.load_balancing_fractions == "per_token"      ? kernels::LoadFractions::per_token
                   : e.load_balancing_fractions == "first_choice" ? kernels::LoadFractions::first_choice
                                                                  : kernels::LoadFractions::per_pick;
  c.lb_layers = e.load_balancing_layers == "mean"     ? kernels::BalanceLayers::mean
                : e.load_balancing_layers == "pooled" ? kernels::BalanceLayers::pooled
                                                      : kernels::BalanceLayers::sum;
  c.lb_scope = e.load_balancing_scope == "sequence"       ? kernels::BalanceScope::sequence
               : e.load_balancing_scope == "global_batch" ? kernels::BalanceScope::global_batch
                                                          : kernels::BalanceScope::micro_batch;
  c.matmul = kernels::matmul_from_name(deck.train.precision);
  return c;
}

HybridOptimizerSettings optimizer_settings_from_deck(const RunDeck& deck) {
  const auto& o = deck.optim;
  HybridOptimizerSettings s;
  s.muon_lr = o.muon_lr;
  s.adamw_lr = o.adamw_lr;
  s.muon = MuonSettings{o.muon_momentum, o.muon_nesterov, static_cast<int>(o.muon_ns_steps),
                        kernels::matmul_from_name(deck.train.precision)};
  s.adamw = AdamWSettings{o.adamw_beta1, o.adamw_beta2, o.adamw_eps, o.weight_decay};
  s.joint_qkv = o.muon_qkv == "joint";
  return s;
}

LrScheduleSettings lr_schedule_from_deck(const RunDeck& deck) {
  const auto& o = deck.optim;
  return LrScheduleSettings{o.warmup_frac, o.decay, o.min_lr_ratio, o.legacy_schedule, deck.train.grad_accum};
}

AuxScheduleSettings load_balancing_schedule_from_deck(const RunDeck& deck) {
  const auto& m = deck.moe;
  return AuxScheduleSettings{m.load_balancing_weight, m.load_balancing_weight_end, m.lb_warmup_frac,
                             m.lb_decay_end_frac};
}

StepOptions training_step_options(const RunDeck& deck, int64_t micro_batch, double lb_weight) {
  StepOptions o;
  o.training = true;
  o.seed = static_cast<uint64_t>(deck.run.seed);
  o.rng_step = static_cast<uint64_t>(micro_batch);
  o.lb_weight = lb_weight;
  o.z_weight = deck.moe.z_loss_weight;
  o.grad_scale = 1.0 / double(deck.train.grad_accum);
  o.first_micro_batch = micro_batch % deck.train.grad_accum == 0;
  return o;
}

StepOptions evaluation_step_options() { return StepOptions{false, 0, 0, 0.0, 0.0, 0.0, true}; }

}  // namespace kmoe
