// The research's hybrid optimizer: Muon for the registry's Muon-tagged 2-D hidden matrices,
// AdamW for the rest (tied embedding, norm gains), each with its own peak LR and one shared
// schedule multiplier.
#pragma once

#include "model/parameter_registry.hpp"
#include "optim/adamw.hpp"
#include "optim/muon.hpp"
#include "optim/optimizer_shards.hpp"

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
// The AdamW tensors of `specs`, in offset order.
std::vector<Segment> adamw_segments(const std::vector<ParamSpec>& specs);

template <class T>
class HybridOptimizer {
 public:
  // The optimizer of shard `shard` of `shards` (optimizer_shards.hpp): it holds the state of, and
  // updates, that shard's tensors only. One shard: every tensor.
  HybridOptimizer(const ParameterSet<T>& params, const HybridOptimizerSettings& settings, int shards = 1,
                  int shard = 0);
  // One update of this shard's tensors with both peak LRs times `lr_multiplier`; counts updates from 1.
  void step(ParameterSet<T>& params, double lr_multiplier);
  int64_t updates() const { return updates_; }
  void set_updates(int64_t n) { updates_ = n; }
  const AdamW<T>& adamw() const { return adamw_; }
  const Muon<T>& muon() const { return muon_; }
  const std::vector<OptimizerShard>& shards() const { return shards_; }
  // Each shard's part of the whole optimizer's AdamW state (m or v) and Muon momentum: the
  // checkpoint holds the whole, in the single-process layout.
  const std::vector<ElementRange>& adamw_state_ranges() const { return adamw_state_ranges_; }
  const std::vector<ElementRange>& muon_state_ranges() const { return muon_state_ranges_; }

 private:
  // `matrices` and `segments`: every Muon matrix and AdamW tensor of the `elements` parameters.
  HybridOptimizer(const HybridOptimizerSettings& settings, const std::vector<MatrixSegment>& matrices,
                  const std::vector<Segment>& segments, size_t elements, int shards, int shard);
  HybridOptimizerSettings settings_;
  std::vector<OptimizerShard> shards_;
  std::vector<ElementRange> adamw_state_ranges_, muon_state_ranges_;
  AdamW<T> adamw_;
  Muon<T> muon_;
  int64_t updates_ = 0;
};

}  // namespace kmoe
