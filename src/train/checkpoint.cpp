#include "train/checkpoint.hpp"

#include "core/error.hpp"
#include "core/fnv_hash.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>

namespace kmoe {
namespace {

constexpr char kMagic[8] = {'K', 'M', 'O', 'E', 'C', 'K', 'P', '1'};

class Payload {
 public:
  template <class T>
  void put(const T& v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void put_bytes(const void* data, size_t n) {
    const auto* p = static_cast<const char*>(data);
    bytes_.insert(bytes_.end(), p, p + n);
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

class Reader {
 public:
  Reader(const std::string& bytes, const std::string& path) : bytes_(bytes), path_(path) {}
  template <class T>
  T get() {
    T v;
    get_bytes(&v, sizeof(T));
    return v;
  }
  void get_bytes(void* out, size_t n) {
    if (pos_ + n > bytes_.size()) throw Error(path_ + ": checkpoint is truncated");
    std::memcpy(out, bytes_.data() + pos_, n);
    pos_ += n;
  }

 private:
  const std::string& bytes_;
  const std::string& path_;
  size_t pos_ = 0;
};

}  // namespace

void write_checkpoint(const std::string& path, const CheckpointData& d) {
  Payload p;
  p.put(uint64_t(d.deck_toml.size()));
  p.put_bytes(d.deck_toml.data(), d.deck_toml.size());
  p.put(d.update);
  p.put(d.micro_batches);
  p.put(d.tokens_seen);
  p.put(d.best_val_ppl);
  p.put(d.train_seconds);
  p.put(uint64_t(d.tensors.size()));
  for (const auto& t : d.tensors) {
    p.put(uint64_t(t.size()));
    p.put_bytes(t.data(), t.size() * sizeof(float));
  }
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error(tmp + ": cannot create checkpoint");
  const uint64_t sum = fnv1a64(p.bytes()), size = p.bytes().size();
  bool ok = ::write(fd, kMagic, sizeof(kMagic)) == ssize_t(sizeof(kMagic)) &&
            ::write(fd, &size, sizeof(size)) == ssize_t(sizeof(size));
  for (size_t off = 0; ok && off < p.bytes().size();) {
    const ssize_t n = ::write(fd, p.bytes().data() + off, p.bytes().size() - off);
    ok = n > 0;
    off += ok ? size_t(n) : 0;
  }
  ok = ok && ::write(fd, &sum, sizeof(sum)) == ssize_t(sizeof(sum)) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw Error(tmp + ": writing the checkpoint failed");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error("cannot rename " + tmp + " to " + path);
}

CheckpointData read_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": no checkpoint to resume from");
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (file.size() < 24 || std::memcmp(file.data(), kMagic, 8) != 0) throw Error(path + ": not a kmoe checkpoint");
  uint64_t size = 0, sum = 0;
  std::memcpy(&size, file.data() + 8, 8);
  if (file.size() != 16 + size + 8) throw Error(path + ": checkpoint is truncated");
  const std::string payload = file.substr(16, size);
  std::memcpy(&sum, file.data() + 16 + size, 8);
  if (fnv1a64(payload) != sum) throw Error(path + ": checkpoint checksum mismatch (corrupted file)");
  Reader r(payload, path);
  CheckpointData d;
  d.deck_toml.resize(r.get<uint64_t>());
  r.get_bytes(d.deck_toml.data(), d.deck_toml.size());
  d.update = r.get<int64_t>();
  d.micro_batches = r.get<int64_t>();
  d.tokens_seen = r.get<int64_t>();
  d.best_val_ppl = r.get<double>();
  d.train_seconds = r.get<double>();
  d.tensors.resize(r.get<uint64_t>());
  for (auto& t : d.tensors) {
    t.resize(r.get<uint64_t>());
    r.get_bytes(t.data(), t.size() * sizeof(float));
  }
  return d;
}

}  // namespace kmoe
