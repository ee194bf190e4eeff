#include "train/checkpoint.hpp"

#include <cstring>
#include <fstream>

#include "core/error.hpp"
#include "core/fnv_hash.hpp"
#include "io/atomic_file.hpp"
#include "io/byte_buffer.hpp"

namespace kmoe {
namespace {

constexpr char kMagic[8] = {'K', 'M', 'O', 'E', 'C', 'K', 'P', '3'};
constexpr char kOlderMagic[7] = {'K', 'M', 'O', 'E', 'C', 'K', 'P'};

}  // namespace

void write_checkpoint(const std::string& path, const CheckpointData& d) {
  // magic, payload size, payload, checksum of the payload: built in one buffer
  ByteWriter p;
  p.put_bytes(kMagic, sizeof(kMagic));
  p.put(uint64_t(0));
  constexpr size_t kHeader = sizeof(kMagic) + sizeof(uint64_t);
  p.put_string(d.deck_toml);
  p.put_string(d.data_identity);
  p.put(d.update);
  p.put(d.micro_batches);
  p.put(d.tokens_seen);
  p.put(d.best_val_ppl);
  p.put(d.train_seconds);
  const std::vector<const std::vector<float>*> tensors = {&d.parameters,    &d.adamw_m,      &d.adamw_v,
                                                          &d.muon_momentum, &d.routing_bias, &d.probe_routing};
  p.put(uint64_t(tensors.size()));
  for (const auto* t : tensors) p.put_vector(*t);
  p.put_string(d.record_state);
  const size_t payload = p.bytes().size() - kHeader;
  p.patch(sizeof(kMagic), uint64_t(payload));
  p.put(fnv1a64(p.bytes().data() + kHeader, payload));
  write_file_atomically(path, p.bytes(), "checkpoint");
}

CheckpointData read_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": no checkpoint to resume from");
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (file.size() < 24 || std::memcmp(file.data(), kMagic, 8) != 0) {
    if (file.size() >= 8 && std::memcmp(file.data(), kOlderMagic, 7) == 0) {
      throw Error(path + ": checkpoint written by an older kmoe (format " + std::string(1, file[7]) +
                  "); it cannot be resumed by this version");
    }
    throw Error(path + ": not a kmoe checkpoint");
  }
  uint64_t size = 0, sum = 0;
  std::memcpy(&size, file.data() + 8, 8);
  if (file.size() != 16 + size + 8) throw Error(path + ": checkpoint is truncated");
  const std::string payload = file.substr(16, size);
  std::memcpy(&sum, file.data() + 16 + size, 8);
  if (fnv1a64(payload) != sum) throw Error(path + ": checkpoint checksum mismatch (corrupted file)");
  ByteReader r(payload, path);
  CheckpointData d;
  d.deck_toml = r.get_string();
  d.data_identity = r.get_string();
  d.update = r.get<int64_t>();
  d.micro_batches = r.get<int64_t>();
  d.tokens_seen = r.get<int64_t>();
  d.best_val_ppl = r.get<double>();
  d.train_seconds = r.get<double>();
  const std::vector<std::vector<float>*> tensors = {&d.parameters,    &d.adamw_m,      &d.adamw_v,
                                                    &d.muon_momentum, &d.routing_bias, &d.probe_routing};
  if (r.get<uint64_t>() != tensors.size()) throw Error(path + ": unexpected checkpoint layout");
  for (auto* t : tensors) *t = r.get_vector<float>();
  d.record_state = r.get_string();
  return d;
}

}  // namespace kmoe
