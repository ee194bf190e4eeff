#include "optim/optimizer_shards.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace kmoe {

namespace {
constexpr double kElementwiseCost = 20;  // momentum or moments, the update, reads and writes

struct Tensor {
  size_t offset;
  double cost;
  bool matrix;
};
}  // namespace

double muon_update_cost(const MatrixSegment& matrix, int ns_steps) {
  const double small = std::min(matrix.rows, matrix.cols), large = std::max(matrix.rows, matrix.cols);
  // Per Newton–Schulz step: the Gram matrix and the update (2·s²·l each), A² (2·s³).
  return ns_steps * (4 * small * small * large + 2 * small * small * small) + kElementwiseCost * small * large;
}

double adamw_update_cost(const Segment& segment) { return kElementwiseCost * double(segment.size); }

std::vector<OptimizerShard> shard_by_tensors(const std::vector<MatrixSegment>& matrices,
                                             const std::vector<Segment>& segments, size_t elements, int ranks,
                                             int ns_steps) {
  require(ranks >= 1, "shard_by_tensors: at least one rank");
  std::vector<Tensor> tensors;
  for (const auto& m : matrices) tensors.push_back(Tensor{m.offset, muon_update_cost(m, ns_steps), true});
  for (const auto& s : segments) tensors.push_back(Tensor{s.offset, adamw_update_cost(s), false});
  std::stable_sort(tensors.begin(), tensors.end(),
                   [](const Tensor& a, const Tensor& b) { return a.offset < b.offset; });
  double total = 0;
  for (const auto& t : tensors) total += t.cost;

  // Owners never decrease along the buffer: each rank's tensors are consecutive.
  std::vector<int> owner;
  double before = 0;
  for (const auto& t : tensors) {
    owner.push_back(std::min(ranks - 1, int(std::floor(ranks * (before + t.cost / 2) / total))));
    before += t.cost;
  }
  std::vector<OptimizerShard> shards(static_cast<size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    auto& s = shards[size_t(r)];
    s.elements.begin = r == 0 ? 0 : elements;
    for (size_t i = 0; i < tensors.size(); ++i) {
      int& first = tensors[i].matrix ? s.first_matrix : s.first_segment;
      int& end = tensors[i].matrix ? s.end_matrix : s.end_segment;
      if (owner[i] < r) ++first;
      if (owner[i] <= r) ++end;
      if (owner[i] >= r && r > 0) s.elements.begin = std::min(s.elements.begin, tensors[i].offset);
    }
  }
  for (int r = 0; r < ranks; ++r)
    shards[size_t(r)].elements.end = r + 1 < ranks ? shards[size_t(r + 1)].elements.begin : elements;
  return shards;
}

}  // namespace kmoe
