#include "data/batch_sampler.hpp"

#include <algorithm>

#include "core/counter_rng.hpp"
#include "core/error.hpp"

namespace kmoe {

namespace {
template <class HostInts>
void copy_window(const TokenShard& shard, int64_t start, int seq_len, int row, const HostInts& in,
                 const HostInts& out) {
  for (int t = 0; t < seq_len; ++t) {
    in(row * seq_len + t) = static_cast<int>(shard[start + t]);
    out(row * seq_len + t) = static_cast<int>(shard[start + t + 1]);
  }
}
}  // namespace

TokenBatch make_batch(int batch, int seq_len) {
  TokenBatch b;
  b.batch = batch;
  b.inputs = View1<int>("batch_inputs", size_t(batch) * seq_len);
  b.targets = View1<int>("batch_targets", size_t(batch) * seq_len);
  return b;
}

TrainBatchSampler::TrainBatchSampler(const TokenShard& shard, int seq_len, uint64_t seed)
    : shard_(shard), seq_len_(seq_len), seed_(seed) {
  if (shard.size() < seq_len + 1) {
    throw Error(shard.path() + ": " + std::to_string(shard.size()) +
                " tokens, fewer than model.seq_len + 1 = " + std::to_string(seq_len + 1));
  }
}

void TrainBatchSampler::fill(int64_t index, TokenBatch& batch) const {
  auto in = Kokkos::create_mirror_view(batch.inputs);
  auto out = Kokkos::create_mirror_view(batch.targets);
  const uint64_t stream = rng::stream_id(rng::Purpose::DataOrder, 3);
  const int64_t starts = shard_.size() - seq_len_;  // windows [s, s + seq_len] inside the shard
  for (int row = 0; row < batch.batch; ++row) {
    const double u = rng::uniform(seed_, stream, uint64_t(index) * batch.batch + row);
    const int64_t start = std::min<int64_t>(starts - 1, int64_t(u * starts));
    copy_window(shard_, start, seq_len_, row, in, out);
  }
  Kokkos::deep_copy(batch.inputs, in);
  Kokkos::deep_copy(batch.targets, out);
}

EvalWindows::EvalWindows(const TokenShard& shard, int seq_len)
    : shard_(shard), seq_len_(seq_len), count_((shard.size() - 1) / seq_len) {
  if (count_ < 1) {
    throw Error(shard.path() + ": " + std::to_string(shard.size()) +
                " tokens, fewer than model.seq_len + 1 = " + std::to_string(seq_len + 1));
  }
}

void EvalWindows::fill(int64_t first, TokenBatch& batch) const {
  require(first >= 0 && first + batch.batch <= count_, shard_.path() + ": evaluation window out of range");
  auto in = Kokkos::create_mirror_view(batch.inputs);
  auto out = Kokkos::create_mirror_view(batch.targets);
  for (int row = 0; row < batch.batch; ++row) copy_window(shard_, (first + row) * seq_len_, seq_len_, row, in, out);
  Kokkos::deep_copy(batch.inputs, in);
  Kokkos::deep_copy(batch.targets, out);
}

}  // namespace kmoe
