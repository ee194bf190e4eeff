#include "train/step_accumulator.hpp"

#include "core/error.hpp"

namespace kmoe {

void StepAccumulator::add(const ForwardResult& r) {
  if (count_ == 0) {
    sum_ = r;
    count_ = 1;
    return;
  }
  require(r.layers.size() == sum_.layers.size(), "micro-batches with different layer counts");
  sum_.cross_entropy += r.cross_entropy;
  sum_.load_balancing += r.load_balancing;
  sum_.z_loss += r.z_loss;
  sum_.total_loss += r.total_loss;
  sum_.correct += r.correct;
  sum_.tokens += r.tokens;
  for (size_t l = 0; l < r.layers.size(); ++l) {
    auto& into = sum_.layers[l];
    const auto& from = r.layers[l];
    for (size_t e = 0; e < from.expert_tokens.size(); ++e) {
      into.expert_tokens[e] += from.expert_tokens[e];
      into.mean_prob[e] += from.mean_prob[e];
    }
    into.entropy += from.entropy;
    into.load_balancing += from.load_balancing;
    into.z_loss += from.z_loss;
    into.dropped += from.dropped;
    into.unrouted += from.unrouted;
  }
  ++count_;
}

ForwardResult StepAccumulator::combined() const {
  require(count_ > 0, "no micro-batch accumulated");
  ForwardResult r = sum_;
  const double n = count_;
  r.cross_entropy /= n;
  r.load_balancing /= n;
  r.z_loss /= n;
  r.total_loss /= n;
  for (auto& layer : r.layers) {
    for (auto& p : layer.mean_prob) p /= n;
    layer.entropy /= n;
    layer.load_balancing /= n;
    layer.z_loss /= n;
  }
  return r;
}

}  // namespace kmoe
