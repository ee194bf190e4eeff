#include "optim/muon.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>

namespace kmoe {

namespace {

View1<size_t> device_copy(const std::string& name, const std::vector<size_t>& values) {
  View1<size_t> view(name, values.size());
  const auto host = Kokkos::create_mirror_view(view);
  for (size_t i = 0; i < values.size(); ++i) host(i) = values[i];
  Kokkos::deep_copy(view, host);
  return view;
}

// The matrices by shape, in order of each shape's first matrix; members in the given order, each
// with its offset into the parameters and into the momentum (the matrices' sizes in order).
struct ShapeGroup {
  int rows, cols;
  std::vector<size_t> param_offsets, state_offsets;
  size_t matrix_elements() const { return size_t(rows) * cols; }
  size_t elements() const { return matrix_elements() * param_offsets.size(); }
  // Members updated in one pass. A device takes the whole group: its launches do not grow with
  // the matrices. The host takes as many as fit in 4 MiB of fp32, so that a pass's dozens of sweeps
  // (momentum, norms, five Newton–Schulz steps) find their matrices in cache: whole groups of the
  // reference model's 48 expert matrices (113 MB) measured 1.3× slower on 2 cores (with per-element
  // index divisions then; without them whole groups were still no faster than these passes).
  int members_per_pass() const {
    constexpr size_t kHostPassElements = size_t(1) << 20;
    const int count = static_cast<int>(param_offsets.size());
    if (!Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace, MemSpace>::accessible) return count;
    return static_cast<int>(std::clamp<size_t>(kHostPassElements / matrix_elements(), 1, count));
  }
  size_t pass_elements() const { return matrix_elements() * members_per_pass(); }
};

std::vector<ShapeGroup> shape_groups(const std::vector<MatrixSegment>& matrices) {
  std::vector<ShapeGroup> groups;
  std::map<std::pair<int, int>, size_t> index;
  size_t state = 0;
  for (const auto& m : matrices) {
    const auto [it, added] = index.emplace(std::pair{m.rows, m.cols}, groups.size());
    if (added) groups.push_back(ShapeGroup{m.rows, m.cols, {}, {}});
    groups[it->second].param_offsets.push_back(m.offset);
    groups[it->second].state_offsets.push_back(state);
    state += size_t(m.rows) * m.cols;
  }
  return groups;
}

}  // namespace

size_t muon_scratch_elements(const std::vector<MatrixSegment>& matrices) {
  size_t largest_pass = 0, largest_grams = 0;
  for (const auto& g : shape_groups(matrices)) {
    const size_t small = size_t(std::min(g.rows, g.cols));
    largest_pass = std::max(largest_pass, g.pass_elements());
    largest_grams = std::max(largest_grams, small * small * g.members_per_pass());
  }
  // The direction, its orthogonalisation and Newton–Schulz's next X; its three small matrices.
  return 3 * largest_pass + 3 * largest_grams;
}

template <class T>
Muon<T>::Muon(std::vector<MatrixSegment> matrices, const MuonSettings& settings) : settings_(settings) {
  size_t state = 0, largest_pass = 0;
  for (const auto& g : shape_groups(matrices)) {
    groups_.push_back(MuonGroup{g.rows, g.cols, static_cast<int>(g.param_offsets.size()), g.members_per_pass(),
                                device_copy("muon_param_offsets", g.param_offsets),
                                device_copy("muon_state_offsets", g.state_offsets)});
    largest_pass = std::max(largest_pass, g.pass_elements());
    state += g.elements();
  }
  momentum_ = View1<T>("muon_momentum", state);
  direction_ = View1<T>("muon_direction", largest_pass);
  orthogonal_ = View1<T>("muon_orthogonal", largest_pass);
}

template <class T>
void Muon<T>::update(const View1<T>& params, const View1<T>& grads, double lr) {
  const T mu = T(settings_.momentum), one_minus_mu = T(1.0 - settings_.momentum);  // 1 - mu in double
  const bool nesterov = settings_.nesterov;
  const auto buf = momentum_;
  const auto dir = direction_;
  const auto orth = orthogonal_;
  for (const auto& group : groups_) {
    const size_t n = size_t(group.rows) * group.cols;
    const T step = T(lr * std::sqrt(std::max(1.0, double(group.rows) / group.cols)));
    for (int first = 0; first < group.count; first += group.members_per_pass) {
      const int members = std::min(group.members_per_pass, group.count - first);
      const auto param_offset = Kokkos::subview(group.param_offset, Kokkos::make_pair(first, first + members));
      const auto state_offset = Kokkos::subview(group.state_offset, Kokkos::make_pair(first, first + members));
      const MatrixElements elements({0, 0}, {int64_t(members), int64_t(n)});
      Kokkos::parallel_for(
          "muon_momentum", elements, KOKKOS_LAMBDA(int64_t b, int64_t i) {
            const size_t p = param_offset(b) + i, s = state_offset(b) + i;
            const T g = grads(p);
            buf(s) += one_minus_mu * (g - buf(s));
            dir(b * n + i) = nesterov ? one_minus_mu * g + mu * buf(s) : buf(s);
          });
      newton_schulz_.run(direction_.data(), group.rows, group.cols, members, settings_.ns_steps, orthogonal_.data(),
                         settings_.matmul);
      Kokkos::parallel_for(
          "muon_apply", elements,
          KOKKOS_LAMBDA(int64_t b, int64_t i) { params(param_offset(b) + i) -= step * orth(b * n + i); });
    }
  }
}

template class Muon<float>;
template class Muon<double>;

}  // namespace kmoe
