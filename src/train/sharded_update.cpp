#include "train/sharded_update.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "core/error.hpp"
#include "core/kokkos_compat.hpp"
#include "optim/grad_clip.hpp"

namespace kmoe {

namespace {
size_t blocks_before(size_t element) { return OrderedSum::blocks(element); }

std::vector<float> gathered(const View1<float>& mine, const std::vector<ElementRange>& ranges, int rank,
                            const Communicator& comm, const char* what) {
  std::vector<float> all(ranges.empty() ? 0 : ranges.back().end);
  const ElementRange r = ranges[size_t(rank)];
  const auto host = Kokkos::create_mirror_view_and_copy(HostSpace(), mine);
  std::copy(host.data(), host.data() + r.size(), all.begin() + std::ptrdiff_t(r.begin));
  if (ranges.size() > 1) comm.share(what, all.data(), ranges);
  return all;
}

void restore_part(const View1<float>& mine, const std::vector<float>& all, const std::vector<ElementRange>& ranges,
                  int rank, const std::string& what) {
  const size_t needed = ranges.back().end;
  require(all.size() == needed,
          what + " has " + std::to_string(all.size()) + " values, the model needs " + std::to_string(needed));
  const ElementRange r = ranges[size_t(rank)];
  auto host = Kokkos::create_mirror_view(mine);
  std::copy(all.begin() + std::ptrdiff_t(r.begin), all.begin() + std::ptrdiff_t(r.end), host.data());
  Kokkos::deep_copy(mine, host);
}
}  // namespace

ShardedUpdate::ShardedUpdate(ParameterSet<float>& params, const HybridOptimizerSettings& settings,
                             const Communicator& comm, bool sharded)
    : params_(params),
      comm_(comm),
      shard_(sharded ? comm.rank() : 0),
      optimizer_(params, settings, sharded ? comm.size() : 1, shard_) {
  const size_t n = params.grads().extent(0);
  // A shard sums the norm's blocks that start in its elements, so it also needs the gradient to
  // the end of its last block.
  for (const auto& s : optimizer_.shards()) {
    const ElementRange blocks{blocks_before(s.elements.begin), blocks_before(s.elements.end)};
    norm_blocks_.push_back(blocks);
    const size_t end = blocks.size() == 0 ? s.elements.end : std::min(n, blocks.end * OrderedSum::kBlock);
    needed_.push_back(ElementRange{s.elements.begin, std::max(end, s.elements.end)});
  }
  if (!split()) needed_.assign(size_t(comm.size()), ElementRange{0, n});
  if (split()) values_host_ = Kokkos::create_mirror_view(params.values());  // on the host: the values themselves
}

void ShardedUpdate::share(const char* what, const View1<float>& values, const View1<float>::HostMirror& host) const {
  if (!split()) return;
  Kokkos::fence();                  // the device's values are final before MPI reads their host copy
  Kokkos::deep_copy(host, values);  // on the host the mirror is the values themselves: no copy
  std::vector<ElementRange> owned;
  for (const auto& s : optimizer_.shards()) owned.push_back(s.elements);
  comm_.share(what, host.data(), owned);
  Kokkos::deep_copy(values, host);
}

bool ShardedUpdate::gradients_finite() const {
  const ElementRange r = owned();
  const bool finite = all_finite(View1<float>(Kokkos::subview(params_.grads(), std::make_pair(r.begin, r.end))));
  return split() ? !comm_.any("non-finite gradients", !finite) : finite;
}

void ShardedUpdate::share_gradients() const {
  share("gradients", params_.grads(), Kokkos::create_mirror_view(params_.grads()));
}

double ShardedUpdate::clip(double max_norm) {
  const auto grads = params_.grads();
  const size_t n = grads.extent(0);
  const ElementRange mine = norm_blocks_[size_t(shard_)];
  const auto sums = squared_block_sums(grads, mine.begin, mine.end, norm_sum_);
  std::vector<double> all(OrderedSum::blocks(n));
  std::copy(sums.begin(), sums.end(), all.begin() + std::ptrdiff_t(mine.begin));
  if (split()) comm_.share("gradient norm blocks", all.data(), norm_blocks_);
  const double norm = norm_of_block_sums(all);
  const ElementRange r = owned();
  clip_to_max_norm(View1<float>(Kokkos::subview(grads, std::make_pair(r.begin, r.end))), norm, max_norm);
  return norm;
}

void ShardedUpdate::step(double lr_multiplier) {
  optimizer_.step(params_, lr_multiplier);
  share("updated parameters", params_.values(), values_host_);
}

OptimizerState ShardedUpdate::gathered_state() const {
  const auto& o = optimizer_;
  OptimizerState s;
  s.adamw_m = gathered(o.adamw().first_moment(), o.adamw_state_ranges(), shard_, comm_, "AdamW m");
  s.adamw_v = gathered(o.adamw().second_moment(), o.adamw_state_ranges(), shard_, comm_, "AdamW v");
  s.muon_momentum = gathered(o.muon().momentum(), o.muon_state_ranges(), shard_, comm_, "Muon momentum");
  return s;
}

void ShardedUpdate::restore_state(const OptimizerState& state, const std::string& source) {
  const auto& adamw = optimizer_.adamw_state_ranges();
  const auto& muon = optimizer_.muon_state_ranges();
  restore_part(optimizer_.adamw().first_moment(), state.adamw_m, adamw, shard_, source + ": AdamW m");
  restore_part(optimizer_.adamw().second_moment(), state.adamw_v, adamw, shard_, source + ": AdamW v");
  restore_part(optimizer_.muon().momentum(), state.muon_momentum, muon, shard_, source + ": Muon momentum");
}

}  // namespace kmoe
