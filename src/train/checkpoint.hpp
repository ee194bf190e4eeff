// Checkpoints: everything needed to continue a run bit-for-bit — parameters, optimizer state,
// counters (the RNG is counter-based, so the step counters are its whole state), the resolved
// deck, the identity of the data it trained on, and the run record's rows up to this step (so
// a resumed record holds every step exactly once, whatever happened to the record file).
// Written atomically (io/atomic_file.hpp) with an FNV-1a checksum over the payload.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kmoe {

struct CheckpointData {
  std::string deck_toml;      // resolved deck the run was started with
  std::string data_identity;  // checksums of the token shards (data/run_shards.hpp)
  int64_t update = 0;         // optimizer updates done
  int64_t micro_batches = 0;  // micro-batches consumed (data position, noise/dropout counter)
  int64_t tokens_seen = 0;
  double best_val_ppl = 0;  // 0 = no evaluation yet
  double train_seconds = 0;
  std::vector<float> parameters, adamw_m, adamw_v, muon_momentum;
  std::vector<float> routing_bias;   // aux-loss-free balancing, [layers × experts]
  std::vector<float> probe_routing;  // the routing probe's last routing (RoutingProbe::state)
  std::string record_state;          // RunRecord::serialize() at this step
};

void write_checkpoint(const std::string& path, const CheckpointData& data);
// Throws kmoe::Error naming the file if it is missing, truncated, from another format or
// fails its checksum.
CheckpointData read_checkpoint(const std::string& path);

}  // namespace kmoe
