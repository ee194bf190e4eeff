#include "model/parameter_registry.hpp"

#include <cmath>

#include "core/counter_rng.hpp"
#include "core/error.hpp"

namespace kmoe {

size_t ParamSpec::size() const {
  size_t n = 1;
  for (int d : shape) n *= static_cast<size_t>(d);
  return n;
}

std::vector<ParamSpec> build_parameter_specs(const ModelConfig& c) {
  std::vector<ParamSpec> specs;
  const auto add = [&](std::string name, std::vector<int> shape, InitRule init, OptimizerGroup group,
                       double active_share = 1.0) {
    specs.push_back(ParamSpec{std::move(name), std::move(shape), init, group, active_share, 0});
  };
  const int D = c.d_model;
  add("tok_emb", {c.vocab_size, D}, InitRule::Normal, OptimizerGroup::AdamW);
  for (int l = 0; l < c.parameter_blocks(); ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    add(p + "attn_norm", {D}, InitRule::Ones, OptimizerGroup::AdamW);
    for (const char* w : {"wq", "wk", "wv", "wo"}) add(p + w, {D, D}, InitRule::Normal, OptimizerGroup::Muon);
    add(p + "ffn_norm", {D}, InitRule::Ones, OptimizerGroup::AdamW);
    if (c.moe) {
      if (c.has_router()) {
        add(p + "router", {c.num_experts, D}, InitRule::Normal,
            c.router_muon ? OptimizerGroup::Muon : OptimizerGroup::AdamW);
      }
      const double share = double(c.top_k) / c.num_experts;
      for (int e = 0; e < c.num_experts; ++e) {
        const std::string x = p + "experts." + std::to_string(e) + ".";
        add(x + "w1", {c.expert_d_ff, D}, InitRule::Normal, OptimizerGroup::Muon, share);
        add(x + "w2", {D, c.expert_d_ff}, InitRule::Normal, OptimizerGroup::Muon, share);
      }
      if (c.shared_width() > 0) {
        add(p + "shared.w1", {c.shared_width(), D}, InitRule::Normal, OptimizerGroup::Muon);
        add(p + "shared.w2", {D, c.shared_width()}, InitRule::Normal, OptimizerGroup::Muon);
        // A vector, trained by AdamW like the norms (Newton–Schulz would only rescale it).
        if (c.shared_gate == kernels::SharedGate::sigmoid) {
          add(p + "shared.gate", {1, D}, InitRule::Normal, OptimizerGroup::AdamW);
        }
      }
    } else {
      add(p + "ffn.w1", {c.d_ff, D}, InitRule::Normal, OptimizerGroup::Muon);
      add(p + "ffn.w2", {D, c.d_ff}, InitRule::Normal, OptimizerGroup::Muon);
    }
  }
  add("final_norm", {D}, InitRule::Ones, OptimizerGroup::AdamW);
  size_t offset = 0;
  for (auto& s : specs) {
    s.offset = offset;
    offset += s.size();
  }
  return specs;
}

ParameterCounts count_parameters(const std::vector<ParamSpec>& specs) {
  ParameterCounts counts;
  double active = 0;
  for (const auto& s : specs) {
    counts.total += static_cast<int64_t>(s.size());
    active += s.active_share * static_cast<double>(s.size());
  }
  counts.active = static_cast<int64_t>(std::llround(active));
  return counts;
}

template <class T>
ParameterSet<T>::ParameterSet(const ModelConfig& config) : specs_(build_parameter_specs(config)) {
  const size_t total = specs_.back().offset + specs_.back().size();
  values_ = View1<T>("parameters", total);
  grads_ = View1<T>("gradients", total);
}

template <class T>
int ParameterSet<T>::index_of(const std::string& name) const {
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].name == name) return static_cast<int>(i);
  }
  throw Error("no parameter named '" + name + "'");
}

template <class T>
View2<T> ParameterSet<T>::as_matrix(const View1<T>& flat, int index) const {
  const ParamSpec& s = specs_[index];
  require(s.shape.size() == 2, s.name + " is not a matrix");
  return View2<T>(flat.data() + s.offset, s.shape[0], s.shape[1]);
}

template <class T>
View1<T> ParameterSet<T>::as_vector(const View1<T>& flat, int index) const {
  const ParamSpec& s = specs_[index];
  return View1<T>(flat.data() + s.offset, s.size());
}

template <class T>
void ParameterSet<T>::initialize(uint64_t seed, double init_std) {
  for (size_t i = 0; i < specs_.size(); ++i) {
    const View1<T> tensor = as_vector(values_, static_cast<int>(i));
    if (specs_[i].init == InitRule::Ones) {
      Kokkos::deep_copy(tensor, T(1));
      continue;
    }
    const uint64_t stream = rng::stream_id(rng::Purpose::Init, static_cast<uint32_t>(i));
    Kokkos::parallel_for(
        "initialize_parameter", Range(0, tensor.extent(0)),
        KOKKOS_LAMBDA(size_t j) { tensor(j) = static_cast<T>(init_std * rng::normal(seed, stream, j)); });
  }
  Kokkos::fence();
}

template <class T>
void ParameterSet<T>::zero_grads() {
  Kokkos::deep_copy(grads_, T(0));
}

template class ParameterSet<float>;
template class ParameterSet<double>;

}  // namespace kmoe
