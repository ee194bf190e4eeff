#include "optim/hybrid_optimizer.hpp"

#include "core/error.hpp"

namespace kmoe {

namespace {
std::vector<Segment> adamw_segments(const std::vector<ParamSpec>& specs) {
  std::vector<Segment> out;
  for (const auto& s : specs) {
    if (s.group == OptimizerGroup::AdamW) out.push_back(Segment{s.offset, s.size()});
  }
  return out;
}
}  // namespace

std::vector<MatrixSegment> muon_matrices(const std::vector<ParamSpec>& specs, bool joint_qkv) {
  const auto ends_with = [](const std::string& name, const char* tail) {
    const std::string t(tail);
    return name.size() >= t.size() && name.compare(name.size() - t.size(), t.size(), t) == 0;
  };
  std::vector<MatrixSegment> out;
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& s = specs[i];
    if (s.group != OptimizerGroup::Muon) continue;
    if (joint_qkv && ends_with(s.name, "wq")) {
      require(i + 2 < specs.size() && ends_with(specs[i + 1].name, "wk") && ends_with(specs[i + 2].name, "wv") &&
                  specs[i + 1].offset == s.offset + s.size() && specs[i + 2].offset == s.offset + 2 * s.size(),
              "optim.muon_qkv = \"joint\" needs " + s.name + ", wk and wv adjacent in the parameter buffer");
      out.push_back(MatrixSegment{s.offset, 3 * s.shape[0], s.shape[1]});
      i += 2;
      continue;
    }
    out.push_back(MatrixSegment{s.offset, s.shape[0], s.shape[1]});
  }
  return out;
}

template <class T>
HybridOptimizer<T>::HybridOptimizer(const ParameterSet<T>& params, const HybridOptimizerSettings& settings)
    : settings_(settings),
      adamw_(adamw_segments(params.specs()), settings.adamw),
      muon_(muon_matrices(params.specs(), settings.joint_qkv), settings.muon) {}

template <class T>
void HybridOptimizer<T>::step(ParameterSet<T>& params, double lr_multiplier) {
  ++updates_;
  adamw_.update(params.values(), params.grads(), settings_.adamw_lr * lr_multiplier, updates_);
  muon_.update(params.values(), params.grads(), settings_.muon_lr * lr_multiplier);
}

template class HybridOptimizer<float>;
template class HybridOptimizer<double>;

}  // namespace kmoe
