// The model's architecture, separate from the deck so kernels and tests can build models
// directly.
#pragma once

#include <cstdint>

#include "kernels/matmul_precision.hpp"
#include "kernels/router.hpp"

namespace kmoe {

struct RunDeck;

struct ModelConfig {
  int vocab_size = 8192;
  int d_model = 384;
  int n_layers = 6;
  int n_heads = 8;
  int seq_len = 512;
  bool moe = true;  // false: dense FFN baseline
  int d_ff = 1536;  // dense FFN width
  bool weight_sharing = false;
  double dropout = 0.1;
  double norm_eps = 1.1920929e-07;
  double rope_base = 10000.0;
  double init_std = 0.02;
  int num_experts = 8;
  int top_k = 2;
  int expert_d_ff = 1536;
  double capacity_factor = 0.0;  // 0 = dropless
  double noise_std = 0.1;
  bool router_muon = true;
  kernels::GateNorm gate_norm = kernels::GateNorm::selected;
  kernels::Matmul matmul = kernels::Matmul::fp32;  // train.precision: the products' operands (not the router's)

  int head_dim() const { return d_model / n_heads; }
  int parameter_blocks() const { return weight_sharing ? 1 : n_layers; }
};

ModelConfig model_config_from_deck(const RunDeck& deck);

}  // namespace kmoe
