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

// The ranks split the batches into contiguous shares; each batch's sums travel as
// [ce·tokens, correct, tokens, per layer: loads [E], entropy·tokens], then every rank adds all
// batches in batch order, as one process does. Rank 0 holds batch 0, the probe's; its values
// follow the batches.
EvalResult evaluate(MoeTransformer<float>& model, const TokenShard& shard, int batch_size, int64_t max_batches,
                    RoutingProbe* probe, const Communicator& comm) {
  const auto& c = model.config();
  const EvalWindows windows(shard, c.seq_len);
  int64_t total = windows.count();
  if (max_batches > 0) total = std::min<int64_t>(total, max_batches * batch_size);
  const int layers = c.moe ? c.n_layers : 0, E = c.num_experts;
  const size_t width = 3 + size_t(layers) * (E + 1), probe_width = size_t(layers) * (1 + E * E);
  const int64_t batches = (total + batch_size - 1) / batch_size;
  const int64_t share = (batches + comm.size() - 1) / comm.size();
  const int64_t begin = std::min(batches, comm.rank() * share), end = std::min(batches, begin + share);
  std::vector<double> mine(share * width + probe_width, 0.0);
  const StepOptions options = evaluation_step_options();
  TokenBatch full = make_batch(batch_size, c.seq_len);
  for (int64_t b = begin; b < end; ++b) {
    const int64_t first = b * batch_size;
    const int rows = static_cast<int>(std::min<int64_t>(batch_size, total - first));
    TokenBatch batch = rows == batch_size ? full : make_batch(rows, c.seq_len);
    windows.fill(first, batch);
    const auto out = model.forward(batch, options);
    double* v = mine.data() + (b - begin) * width;
    v[0] = out.cross_entropy * double(out.tokens), v[1] = double(out.correct), v[2] = double(out.tokens);
    for (int l = 0; l < layers; ++l) {
      for (int e = 0; e < E; ++e) v[3 + l * (E + 1) + e] = double(out.layers[l].expert_tokens[e]);
      v[3 + l * (E + 1) + E] = out.layers[l].entropy * double(out.tokens);
    }
    if (probe != nullptr && b == 0) {
      EvalResult measured;
      probe->measure(model, measured);
      double* p = mine.data() + share * width;
      std::copy(measured.routing_change.begin(), measured.routing_change.end(), p);
      std::copy(measured.coactivation.begin(), measured.coactivation.end(), p + layers);
    }
  }
  std::vector<double> all(mine.size() * comm.size());
  comm.allgather("evaluation batches", mine.data(), mine.size(), all.data());
  EvalResult r;
  r.load.assign(layers, std::vector<int64_t>(E, 0));
  r.router_entropy.assign(layers, 0.0);
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t b = 0; b < batches; ++b) {
    const double* v = all.data() + (b / share) * mine.size() + (b % share) * width;
    loss_sum += v[0];
    correct += int64_t(v[1]);
    r.tokens += int64_t(v[2]);
    for (int l = 0; l < layers; ++l) {
      for (int e = 0; e < E; ++e) r.load[l][e] += int64_t(v[3 + l * (E + 1) + e]);
      r.router_entropy[l] += v[3 + l * (E + 1) + E];
    }
  }
  if (probe != nullptr) {
    const double* p = all.data() + share * width;  // rank 0's block
    r.routing_change.assign(p, p + layers);
    for (size_t i = 0; i < size_t(layers) * E * E; ++i) r.coactivation.push_back(int64_t(p[layers + i]));
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
