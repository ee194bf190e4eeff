#include "model/model_config.hpp"

#include "io/run_deck.hpp"

namespace kmoe {

ModelConfig model_config_from_deck(const RunDeck& deck) {
  ModelConfig c;
  c.vocab_size = static_cast<int>(deck.model.vocab_size);
  c.d_model = static_cast<int>(deck.model.d_model);
  c.n_layers = static_cast<int>(deck.model.n_layers);
  c.n_heads = static_cast<int>(deck.model.n_heads);
  c.seq_len = static_cast<int>(deck.model.seq_len);
  c.moe = deck.model.ffn == "moe";
  c.d_ff = static_cast<int>(deck.model.d_ff);
  c.weight_sharing = deck.model.weight_sharing;
  c.dropout = deck.model.dropout;
  c.norm_eps = deck.model.norm_eps;
  c.rope_base = deck.model.rope_base;
  c.init_std = deck.model.init_std;
  c.num_experts = static_cast<int>(deck.moe.num_experts);
  c.top_k = static_cast<int>(deck.moe.top_k);
  c.expert_d_ff = static_cast<int>(deck.moe.expert_d_ff);
  c.capacity_factor = deck.moe.capacity_factor;
  c.noise_std = deck.moe.noise_std;
  c.router_muon = deck.moe.router_muon;
  c.gate_norm = deck.moe.gate_norm == "none" ? kernels::GateNorm::none : kernels::GateNorm::selected;
  c.matmul = kernels::matmul_from_name(deck.train.precision);
  return c;
}

}  // namespace kmoe
