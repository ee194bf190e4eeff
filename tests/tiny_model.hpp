// A tiny model configuration and batch shared by the model tests.
#pragma once

#include "model/moe_transformer.hpp"
#include "train/deck_settings.hpp"

namespace kmoe::testing {

// The deck's defaults (the research model).
inline ModelConfig default_config() { return model_config_from_deck(RunDeck{}); }

// A training micro-batch under the deck's defaults, gradients unscaled (grad_scale 1).
inline StepOptions default_training_options() {
  const RunDeck deck;
  StepOptions o = training_step_options(deck, 0, deck.moe.load_balancing_weight);
  o.grad_scale = 1.0;
  return o;
}

inline ModelConfig tiny_config() {
  ModelConfig c = default_config();
  c.vocab_size = 11;
  c.d_model = 8;
  c.n_layers = 2;
  c.n_heads = 2;
  c.seq_len = 4;
  c.num_experts = 4;
  c.top_k = 2;
  c.expert_d_ff = 6;
  c.d_ff = 12;
  c.dropout = 0.0;
  c.noise_std = 0.0;
  c.init_std = 0.3;  // larger than 0.02 so every term carries visible gradient
  return c;
}

inline TokenBatch tiny_batch(const ModelConfig& c, int batch = 2, int shift = 0) {
  TokenBatch b;
  b.batch = batch;
  const int n = batch * c.seq_len;
  b.inputs = View1<int>("inputs", n);
  b.targets = View1<int>("targets", n);
  auto hi = Kokkos::create_mirror_view(b.inputs);
  auto ht = Kokkos::create_mirror_view(b.targets);
  for (int i = 0; i < n; ++i) {
    hi(i) = (7 * i + 3 + shift) % c.vocab_size;
    ht(i) = (5 * i + 1 + shift) % c.vocab_size;
  }
  Kokkos::deep_copy(b.inputs, hi);
  Kokkos::deep_copy(b.targets, ht);
  return b;
}

}  // namespace kmoe::testing
