#include "train/step_accumulator.hpp"

#include "core/error.hpp"

namespace kmoe {

size_t packed_result_size(int layers, int experts) { return 6 + size_t(layers) * (2 * experts + 5); }

std::vector<double> pack_result(const ForwardResult& r) {
  std::vector<double> v = {r.cross_entropy, r.load_balancing,  r.z_loss,
                           r.total_loss,    double(r.correct), double(r.tokens)};
  for (const auto& l : r.layers) {
    for (auto n : l.expert_tokens) v.push_back(double(n));
    v.insert(v.end(), l.mean_prob.begin(), l.mean_prob.end());
    v.insert(v.end(), {l.entropy, l.load_balancing, l.z_loss, double(l.dropped), double(l.unrouted)});
  }
  return v;
}

ForwardResult unpack_result(const double* v, int layers, int experts) {
  ForwardResult r;
  r.cross_entropy = v[0], r.load_balancing = v[1], r.z_loss = v[2], r.total_loss = v[3];
  r.correct = int64_t(v[4]), r.tokens = int64_t(v[5]);
  v += 6;
  for (int l = 0; l < layers; ++l) {
    LayerRouterStats s;
    for (int e = 0; e < experts; ++e) s.expert_tokens.push_back(int64_t(*v++));
    for (int e = 0; e < experts; ++e) s.mean_prob.push_back(*v++);
    s.entropy = v[0], s.load_balancing = v[1], s.z_loss = v[2], s.dropped = int64_t(v[3]), s.unrouted = int64_t(v[4]);
    v += 5;
    r.layers.push_back(s);
  }
  return r;
}

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
