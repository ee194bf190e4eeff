#include "train/routing_probe.hpp"

#include <limits>

#include "core/error.hpp"
#include "kernels/routing_probe.hpp"

namespace kmoe {

RoutingProbe::RoutingProbe(const ModelConfig& c, int tokens) {
  for (int l = 0; l < c.n_layers; ++l) {
    now_.emplace_back("probe_routed", tokens, c.num_experts);
    previous_.emplace_back("probe_previous", tokens, c.num_experts);
  }
}

void RoutingProbe::measure(const MoeTransformer<float>& model, EvalResult& r) {
  const auto& c = model.config();
  require(model.last_tokens() == int(now_[0].extent(0)), "the routing probe measures its own batch only");
  const int E = c.num_experts;
  View2<int64_t> counts("coactivation", E, E);
  r.routing_change.clear();
  r.coactivation.clear();
  for (int l = 0; l < c.n_layers; ++l) {
    model.routed_pairs(l, now_[l]);
    const auto overlap = kernels::pair_overlap(now_[l], previous_[l]);
    r.routing_change.push_back(has_previous_ && overlap.now > 0 ? 1.0 - double(overlap.both) / double(overlap.now)
                                                                : std::numeric_limits<double>::quiet_NaN());
    kernels::coactivation_counts(now_[l], counts);
    const auto host = Kokkos::create_mirror_view_and_copy(HostSpace(), counts);
    r.coactivation.insert(r.coactivation.end(), host.data(), host.data() + host.span());
    Kokkos::deep_copy(previous_[l], now_[l]);
  }
  has_previous_ = true;
}

std::vector<float> RoutingProbe::state() const {
  std::vector<float> out;
  if (!has_previous_) return out;
  for (const auto& layer : previous_) {
    const auto host = Kokkos::create_mirror_view_and_copy(HostSpace(), layer);
    out.insert(out.end(), host.data(), host.data() + host.span());
  }
  return out;
}

void RoutingProbe::restore(const std::vector<float>& state) {
  has_previous_ = false;
  if (state.empty()) return;
  require(state.size() == previous_.size() * previous_[0].span(),
          "the checkpoint's routing probe has " + std::to_string(state.size()) + " values, this run's " +
              std::to_string(previous_.size() * previous_[0].span()));
  size_t at = 0;
  for (auto& layer : previous_) {
    auto host = Kokkos::create_mirror_view(layer);
    for (size_t i = 0; i < host.span(); ++i) host.data()[i] = uint8_t(state[at++]);
    Kokkos::deep_copy(layer, host);
  }
  has_previous_ = true;
}

}  // namespace kmoe
