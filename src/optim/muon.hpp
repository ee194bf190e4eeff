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

template <class T>
class Muon {
 public:
  Muon(std::vector<MatrixSegment> matrices, const MuonSettings& settings);
  void update(const View1<T>& params, const View1<T>& grads, double lr);
  View1<T> momentum() const { return momentum_; }

 private:
  MuonSettings settings_;
  std::vector<MatrixSegment> matrices_;
  std::vector<size_t> state_offset_;
  View1<T> momentum_;
  View1<T> direction_, orthogonal_;
  NewtonSchulz<T> newton_schulz_;
};

}  // namespace kmoe
