#include "optim/hybrid_optimizer.hpp"

#include "io/run_deck.hpp"

namespace kmoe {

namespace {
std::vector<Segment> adamw_segments(const std::vector<ParamSpec>& specs) {
  std::vector<Segment> out;
  for (const auto& s : specs) {
    if (s.group == OptimizerGroup::AdamW) out.push_back(Segment{s.offset, s.size()});
  }
  return out;
}
std::vector<MatrixSegment> muon_matrices(const std::vector<ParamSpec>& specs) {
  std::vector<MatrixSegment> out;
  for (const auto& s : specs) {
    if (s.group == OptimizerGroup::Muon) out.push_back(MatrixSegment{s.offset, s.shape[0], s.shape[1]});
  }
  return out;
}
}  // namespace

HybridOptimizerSettings optimizer_settings_from_deck(const RunDeck& deck) {
  const auto& o = deck.optim;
  HybridOptimizerSettings s;
  s.muon_lr = o.muon_lr;
  s.adamw_lr = o.adamw_lr;
  s.muon = MuonSettings{o.muon_momentum, o.muon_nesterov, static_cast<int>(o.muon_ns_steps)};
  s.adamw = AdamWSettings{o.adamw_beta1, o.adamw_beta2, o.adamw_eps, o.weight_decay};
  return s;
}

template <class T>
HybridOptimizer<T>::HybridOptimizer(const ParameterSet<T>& params, const HybridOptimizerSettings& settings)
    : settings_(settings),
      adamw_(adamw_segments(params.specs()), settings.adamw),
      muon_(muon_matrices(params.specs()), settings.muon) {}

template <class T>
void HybridOptimizer<T>::step(ParameterSet<T>& params, double lr_multiplier) {
  ++updates_;
  adamw_.update(params.values(), params.grads(), settings_.adamw_lr * lr_multiplier, updates_);
  muon_.update(params.values(), params.grads(), settings_.muon_lr * lr_multiplier);
}

template class HybridOptimizer<float>;
template class HybridOptimizer<double>;

}  // namespace kmoe
