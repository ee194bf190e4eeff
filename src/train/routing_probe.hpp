// The evaluation's routing probe: on the fixed probe batch (the validation split's first batch),
// each layer's (token, expert) pairs are compared with the previous evaluation's — the fraction
// routed now that were not routed then (router settling; OLMoE's saturation read the other way)
// — and counted into the E × E co-activation matrix. The previous routing is part of the
// checkpoint, so a resumed run measures the same change.
#pragma once

#include <vector>

#include "model/moe_transformer.hpp"
#include "train/evaluation.hpp"

namespace kmoe {

class RoutingProbe {
 public:
  // For a probe batch of `tokens` tokens.
  RoutingProbe(const ModelConfig& c, int tokens);
  // Right after the model's forward on the probe batch: fills r.routing_change (NaN at the first
  // evaluation) and r.coactivation, and keeps this routing for the next evaluation.
  void measure(const MoeTransformer<float>& model, EvalResult& r);
  // The routing kept for the next evaluation ([layers · tokens · experts] of 0/1; empty before the first).
  std::vector<float> state() const;
  void restore(const std::vector<float>& state);

 private:
  std::vector<View2<uint8_t>> now_, previous_;  // [layer] [tokens, experts]
  bool has_previous_ = false;
};

}  // namespace kmoe
