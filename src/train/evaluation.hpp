// Evaluation over fixed windows of a split: token-weighted loss, argmax accuracy, perplexity,
// and per-layer expert loads, their coefficient of variation and router entropy.
#pragma once

#include <vector>

#include "data/token_shard.hpp"
#include "model/moe_transformer.hpp"

namespace kmoe {

struct EvalResult {
  double loss = 0, accuracy = 0, perplexity = 0;
  int64_t tokens = 0;
  std::vector<std::vector<int64_t>> load;  // [layer][expert] (token, slot) assignments
  std::vector<double> expert_cv;           // per layer: std / mean of the loads
  double expert_cv_mean = 0;
  std::vector<double> router_entropy;  // per layer, token-weighted
};

// max_batches = 0: the whole split.
EvalResult evaluate(MoeTransformer<float>& model, const TokenShard& shard, int batch_size, int64_t max_batches);

// std / mean (population std) of a set of counts; 0 for an all-zero set.
double coefficient_of_variation(const std::vector<int64_t>& counts);

}  // namespace kmoe
