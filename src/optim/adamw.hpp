// AdamW (decoupled weight decay, bias correction) as one fused kernel over every tensor of
// the AdamW group, which are scattered segments of the flat parameter buffer.
#pragma once

#include <cstdint>
#include <vector>

#include "core/views.hpp"

namespace kmoe {

struct AdamWSettings {
  double beta1, beta2, eps, weight_decay;
};

struct Segment {
  size_t offset, size;  // into the flat parameter buffer
};

template <class T>
class AdamW {
 public:
  AdamW(std::vector<Segment> segments, const AdamWSettings& settings);
  // One update at learning rate lr; `step` counts updates from 1 (bias correction).
  void update(const View1<T>& params, const View1<T>& grads, double lr, int64_t step);
  View1<T> first_moment() const { return m_; }
  View1<T> second_moment() const { return v_; }
  size_t size() const { return m_.extent(0); }

 private:
  AdamWSettings settings_;
  View1<size_t> segment_offset_, segment_start_;  // flat offset and start in the compact state
  int segments_ = 0;
  View1<T> m_, v_;
};

}  // namespace kmoe
