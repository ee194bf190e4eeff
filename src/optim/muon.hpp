// Muon as the research ran it, per 2-D tensor W [rows = out, cols = in]:
//   m ← m + (1−μ)(g − m)                       (EMA momentum)
//   u = (1−μ)·g + μ·m   (Nesterov)  or  u = m
//   W ← W − lr · √max(1, rows/cols) · NewtonSchulz(u)        (no weight decay)
#pragma once

#include <vector>

#include "core/views.hpp"
#include "kernels/matmul_precision.hpp"
#include "optim/newton_schulz.hpp"

namespace kmoe {

struct MuonSettings {
  double momentum;
  bool nesterov;
  int ns_steps;
  // Newton–Schulz's products (train.precision): bf16 operands as the reference's bf16 cast, with
  // fp32 accumulation and X kept in fp32 between iterations (the reference keeps it in bf16).
  kernels::Matmul matmul;
};

struct MatrixSegment {
  size_t offset;  // into the flat parameter buffer
  int rows, cols;
};

// What Muon allocates besides the momentum, in elements (for the memory check).
size_t muon_scratch_elements(const std::vector<MatrixSegment>& matrices);

// Matrices of one shape, updated together: every launch and product of a pass covers its
// members (on a device the whole group, so the update's launches grow with the number of shapes,
// not of matrices; on the host as many as stay in cache).
struct MuonGroup {
  int rows, cols, count, members_per_pass;
  View1<size_t> param_offset, state_offset;  // per member, into the flat parameters and momentum
};

template <class T>
class Muon {
 public:
  Muon(std::vector<MatrixSegment> matrices, const MuonSettings& settings);
  void update(const View1<T>& params, const View1<T>& grads, double lr);
  View1<T> momentum() const { return momentum_; }

 private:
  MuonSettings settings_;
  std::vector<MuonGroup> groups_;
  View1<T> momentum_;                // the matrices' momenta in their given order (the checkpoint's layout)
  View1<T> direction_, orthogonal_;  // the group being updated, its members one after another
  NewtonSchulz<T> newton_schulz_;
};

}  // namespace kmoe
