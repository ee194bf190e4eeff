// A micro-batch of `sequences` sequences with fixed pseudo-random tokens, for the step benchmarks.
#pragma once

#include "model/moe_transformer.hpp"

namespace kmoe::bench {

inline TokenBatch synthetic_batch(const ModelConfig& c, int sequences) {
  TokenBatch batch;
  batch.batch = sequences;
  const int tokens = sequences * c.seq_len, vocab = c.vocab_size;
  batch.inputs = View1<int>("inputs", tokens);
  batch.targets = View1<int>("targets", tokens);
  const auto inputs = batch.inputs;
  const auto targets = batch.targets;
  Kokkos::parallel_for(
      "tokens", Range(0, tokens), KOKKOS_LAMBDA(int i) {
        inputs(i) = (i * 7919) % vocab;
        targets(i) = (i * 104729 + 1) % vocab;
      });
  return batch;
}

}  // namespace kmoe::bench
