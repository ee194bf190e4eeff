// The research's hybrid optimizer: Muon for the registry's Muon-tagged 2-D hidden matrices,
// AdamW for the rest (tied embedding, norm gains), each with its own peak LR and one shared
// schedule multiplier.
#pragma once

#include "model/parameter_registry.hpp"
#include "optim/adamw.hpp"
#include "optim/muon.hpp"

namespace kmoe {

struct HybridOptimizerSettings {
  double muon_lr, adamw_lr;
  MuonSettings muon;
  AdamWSettings adamw;
  bool joint_qkv;  // optim.muon_qkv = "joint"
};

// The Muon matrices of `specs`. With joint_qkv, each layer's wq, wk, wv (adjacent in the
// flat buffer, each d×d, rows = outputs) form one 3d×d matrix, as the research's stacked qkv
// Linear: one Newton–Schulz over all three and the update scaled by √3.
std::vector<MatrixSegment> muon_matrices(const std::vector<ParamSpec>& specs, bool joint_qkv);

template <class T>
class HybridOptimizer {
 public:
  HybridOptimizer(const ParameterSet<T>& params, const HybridOptimizerSettings& settings);
  // One update with both peak LRs times `lr_multiplier`; counts updates from 1.
  void step(ParameterSet<T>& params, double lr_multiplier);
  int64_t updates() const { return updates_; }
  void set_updates(int64_t n) { updates_ = n; }
  AdamW<T>& adamw() { return adamw_; }
  Muon<T>& muon() { return muon_; }

 private:
  HybridOptimizerSettings settings_;
  AdamW<T> adamw_;
  Muon<T> muon_;
  int64_t updates_ = 0;
};

}  // namespace kmoe
