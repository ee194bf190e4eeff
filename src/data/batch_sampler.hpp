// Batches of windows of seq_len + 1 tokens (inputs = first seq_len, targets = last seq_len).
// Training windows start at positions drawn by the counter RNG from (seed, micro-batch,
// row): the same sequence on every backend and thread count, and resumable from any step.
// Evaluation walks fixed windows w·seq_len, so every target token is scored once and every
// cell of a study sees the same tokens.
#pragma once

#include "data/token_batch.hpp"
#include "data/token_shard.hpp"

namespace kmoe {

class TrainBatchSampler {
 public:
  TrainBatchSampler(const TokenShard& shard, int seq_len, uint64_t seed);
  // Fills batch.inputs / batch.targets (allocated by make_batch) for micro-batch `index`.
  void fill(int64_t index, TokenBatch& batch) const;

 private:
  const TokenShard& shard_;
  int seq_len_;
  uint64_t seed_;
};

class EvalWindows {
 public:
  EvalWindows(const TokenShard& shard, int seq_len);
  int64_t count() const { return count_; }
  // Fills windows [first, first + batch.batch), which must all exist.
  void fill(int64_t first, TokenBatch& batch) const;

 private:
  const TokenShard& shard_;
  int seq_len_;
  int64_t count_;
};

TokenBatch make_batch(int batch, int seq_len);

}  // namespace kmoe
