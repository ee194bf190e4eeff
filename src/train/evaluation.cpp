#include "train/evaluation.hpp"

#include <algorithm>
#include <cmath>

#include "data/batch_sampler.hpp"
#include "train/deck_settings.hpp"
#include "train/routing_probe.hpp"

namespace kmoe {

double coefficient_of_variation(const std::vector<int64_t>& counts) {
  if (counts.empty()) return 0;
  double mean = 0;
  for (auto c : counts) mean += double(c);
  mean /= double(counts.size());
  if (mean == 0) return 0;
  double var = 0;
  for (auto c : counts) var += (double(c) - mean) * (double(c) - mean);
  return std::sqrt(var / double(counts.size())) / mean;
}

int first_batch_tokens(const TokenShard& shard, int seq_len, int batch_size) {
  return int(std::min<int64_t>(EvalWindows(shard, seq_len).count(), batch_size)) * seq_len;
}

EvalResult evaluate(MoeTransformer<float>& model, const TokenShard& shard, int batch_size, int64_t max_batches,
                    RoutingProbe* probe) {
  const auto& c = model.config();
  const EvalWindows windows(shard, c.seq_len);
  int64_t total = windows.count();
  if (max_batches > 0) total = std::min<int64_t>(total, max_batches * batch_size);
  EvalResult r;
  const int layers = c.moe ? c.n_layers : 0;
  r.load.assign(layers, std::vector<int64_t>(c.num_experts, 0));
  r.router_entropy.assign(layers, 0.0);
  const StepOptions options = evaluation_step_options();
  double loss_sum = 0;
  int64_t correct = 0;
  TokenBatch full = make_batch(batch_size, c.seq_len);
  for (int64_t first = 0; first < total; first += batch_size) {
    const int rows = static_cast<int>(std::min<int64_t>(batch_size, total - first));
    TokenBatch batch = rows == batch_size ? full : make_batch(rows, c.seq_len);
    windows.fill(first, batch);
    const auto out = model.forward(batch, options);
    if (probe != nullptr && first == 0) probe->measure(model, r);
    loss_sum += out.cross_entropy * double(out.tokens);
    correct += out.correct;
    r.tokens += out.tokens;
    for (int l = 0; l < layers; ++l) {
      for (int e = 0; e < c.num_experts; ++e) r.load[l][e] += out.layers[l].expert_tokens[e];
      r.router_entropy[l] += out.layers[l].entropy * double(out.tokens);
    }
  }
  r.loss = loss_sum / double(r.tokens);
  r.accuracy = double(correct) / double(r.tokens);
  r.perplexity = std::exp(r.loss);
  for (int l = 0; l < layers; ++l) {
    r.router_entropy[l] /= double(r.tokens);
    r.expert_cv.push_back(coefficient_of_variation(r.load[l]));
    r.expert_cv_mean += r.expert_cv.back() / layers;
  }
  return r;
}

}  // namespace kmoe
