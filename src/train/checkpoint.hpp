// Checkpoints: everything needed to continue a run bit-for-bit — parameters, optimizer state,
// counters (the RNG is counter-based, so the step counters are its whole state) and the
// resolved deck. Written to "<path>.tmp", fsync'd, then renamed over <path>, with an FNV-1a
// checksum over the payload: a crash mid-write leaves the previous checkpoint intact.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kmoe {

struct CheckpointData {
  std::string deck_toml;          // resolved deck the run was started with
  int64_t update = 0;             // optimizer updates done
  int64_t micro_batches = 0;      // micro-batches consumed (data position, noise/dropout counter)
  int64_t tokens_seen = 0;
  double best_val_ppl = 0;        // 0 = no evaluation yet
  double train_seconds = 0;
  // parameters, AdamW m, AdamW v, Muon momentum, routing bias (aux-loss-free balancing)
  std::vector<std::vector<float>> tensors;
};

void write_checkpoint(const std::string& path, const CheckpointData& data);
// Throws kmoe::Error naming the file if it is missing, truncated or fails its checksum.
CheckpointData read_checkpoint(const std::string& path);

}  // namespace kmoe
