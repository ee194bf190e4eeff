#include "optim/hybrid_optimizer.hpp"

#include "core/error.hpp"

namespace kmoe {

namespace {
template <class Item>
std::vector<Item> slice(const std::vector<Item>& items, int first, int end) {
  return std::vector<Item>(items.begin() + first, items.begin() + end);
}

// Each shard's range of a state that holds `sizes[i]` values for item i, items in order, a shard
// holding items [shard.*first, shard.*end).
std::vector<ElementRange> state_ranges(const std::vector<size_t>& sizes, const std::vector<OptimizerShard>& shards,
                                       int OptimizerShard::*first, int OptimizerShard::*end) {
  std::vector<size_t> start(sizes.size() + 1, 0);
  for (size_t i = 0; i < sizes.size(); ++i) start[i + 1] = start[i] + sizes[i];
  std::vector<ElementRange> out;
  for (const auto& s : shards) out.push_back(ElementRange{start[size_t(s.*first)], start[size_t(s.*end)]});
  return out;
}
}  // namespace

std::vector<Segment> adamw_segments(const std::vector<ParamSpec>& specs) {
  std::vector<Segment> out;
  for (const auto& s : specs) {
    if (s.group == OptimizerGroup::AdamW) out.push_back(Segment{s.offset, s.size()});
  }
  return out;
}

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
HybridOptimizer<T>::HybridOptimizer(const ParameterSet<T>& params, const HybridOptimizerSettings& settings, int shards,
                                    int shard)
    : HybridOptimizer(settings, muon_matrices(params.specs(), settings.joint_qkv), adamw_segments(params.specs()),
                      params.values().extent(0), shards, shard) {}

template <class T>
HybridOptimizer<T>::HybridOptimizer(const HybridOptimizerSettings& settings, const std::vector<MatrixSegment>& matrices,
                                    const std::vector<Segment>& segments, size_t elements, int shards, int shard)
    : settings_(settings),
      shards_(shard_by_tensors(matrices, segments, elements, shards, settings.muon.ns_steps)),
      adamw_(slice(segments, shards_[size_t(shard)].first_segment, shards_[size_t(shard)].end_segment), settings.adamw),
      muon_(slice(matrices, shards_[size_t(shard)].first_matrix, shards_[size_t(shard)].end_matrix), settings.muon) {
  std::vector<size_t> adamw_sizes, muon_sizes;
  for (const auto& s : segments) adamw_sizes.push_back(s.size);
  for (const auto& m : matrices) muon_sizes.push_back(size_t(m.rows) * m.cols);
  adamw_state_ranges_ =
      state_ranges(adamw_sizes, shards_, &OptimizerShard::first_segment, &OptimizerShard::end_segment);
  muon_state_ranges_ = state_ranges(muon_sizes, shards_, &OptimizerShard::first_matrix, &OptimizerShard::end_matrix);
}

template <class T>
void HybridOptimizer<T>::step(ParameterSet<T>& params, double lr_multiplier) {
  ++updates_;
  adamw_.update(params.values(), params.grads(), settings_.adamw_lr * lr_multiplier, updates_);
  muon_.update(params.values(), params.grads(), settings_.muon_lr * lr_multiplier);
}

template class HybridOptimizer<float>;
template class HybridOptimizer<double>;

}  // namespace kmoe
