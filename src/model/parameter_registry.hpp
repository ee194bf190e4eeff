// Every trainable tensor: name (the interchange names of shared/reference/torch_moe.py),
// shape, init rule and optimizer group. Values and gradients live in two flat buffers;
// tensors are views into them, so optimizers, norms, checkpoints and NaN checks see one array.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/views.hpp"
#include "model/model_config.hpp"

namespace kmoe {

enum class InitRule { Normal, Ones };
enum class OptimizerGroup { Muon, AdamW };

struct ParamSpec {
  std::string name;
  std::vector<int> shape;  // [out, in] for Linear weights
  InitRule init = InitRule::Normal;
  OptimizerGroup group = OptimizerGroup::AdamW;
  // Share of this tensor one token touches (experts: top_k / num_experts), for active counts.
  double active_share = 1.0;
  size_t offset = 0;  // into the flat buffers
  size_t size() const;
};

std::vector<ParamSpec> build_parameter_specs(const ModelConfig& config);

struct ParameterCounts {
  int64_t total = 0;
  int64_t active = 0;  // parameters one token touches (embedding + attention + router + norms + k experts)
};
ParameterCounts count_parameters(const std::vector<ParamSpec>& specs);

template <class T>
class ParameterSet {
 public:
  explicit ParameterSet(const ModelConfig& config);

  const std::vector<ParamSpec>& specs() const { return specs_; }
  int index_of(const std::string& name) const;  // throws kmoe::Error if unknown
  View1<T> values() const { return values_; }
  View1<T> grads() const { return grads_; }

  View2<T> matrix(int index) const { return as_matrix(values_, index); }
  View2<T> matrix_grad(int index) const { return as_matrix(grads_, index); }
  View1<T> vector(int index) const { return as_vector(values_, index); }
  View1<T> vector_grad(int index) const { return as_vector(grads_, index); }

  // N(0, init_std) / ones from the counter RNG: value = f(seed, tensor index, element).
  void initialize(uint64_t seed, double init_std);
  void zero_grads();

 private:
  View2<T> as_matrix(const View1<T>& flat, int index) const;
  View1<T> as_vector(const View1<T>& flat, int index) const;

  std::vector<ParamSpec> specs_;
  View1<T> values_, grads_;
};

}  // namespace kmoe
