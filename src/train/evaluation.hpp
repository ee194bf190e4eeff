// Evaluation over fixed windows of a split: token-weighted loss, argmax accuracy, perplexity,
// and per-layer expert loads, their coefficient of variation and router entropy.
#pragma once

#include <vector>

#include "core/communicator.hpp"
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
  // The routing probe on the first batch (train/routing_probe): per layer, the fraction of its
  // (token, expert) pairs not routed at the previous evaluation (NaN at the first), and the
  // co-activation counts [layer · E · E].
  std::vector<double> routing_change;
  std::vector<int64_t> coactivation;
};

class RoutingProbe;

// max_batches = 0: the whole split. `probe` (MoE models) measures the first batch. The ranks of
// `comm` share the batches; every rank gets the same result, that of one process.
EvalResult evaluate(MoeTransformer<float>& model, const TokenShard& shard, int batch_size, int64_t max_batches,
                    RoutingProbe* probe = nullptr, const Communicator& comm = Communicator::world());
// The tokens of evaluate's first batch (the probe batch).
int first_batch_tokens(const TokenShard& shard, int seq_len, int batch_size);

// std / mean (population std) of a set of counts; 0 for an all-zero set.
double coefficient_of_variation(const std::vector<int64_t>& counts);

}  // namespace kmoe
