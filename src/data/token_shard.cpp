#include "data/token_shard.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "core/error.hpp"
#include "core/fnv_hash.hpp"

namespace kmoe {

void write_token_shard(const std::string& path, const std::vector<uint32_t>& tokens, int vocab_size) {
  const bool wide = vocab_size > 65535;
  int32_t header[256] = {0};
  header[0] = kShardMagic;
  header[1] = wide ? kShardVersionU32 : kShardVersionU16;
  header[2] = static_cast<int32_t>(tokens.size());
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(partial + ": cannot create shard");
    out.write(reinterpret_cast<const char*>(header), sizeof(header));
    if (wide) {
      out.write(reinterpret_cast<const char*>(tokens.data()), std::streamsize(tokens.size() * 4));
    } else {
      std::vector<uint16_t> narrow(tokens.begin(), tokens.end());
      out.write(reinterpret_cast<const char*>(narrow.data()), std::streamsize(narrow.size() * 2));
    }
    if (!out) throw Error(partial + ": write failed");
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) throw Error("cannot rename " + partial + " to " + path);
}

TokenShard::TokenShard(const std::string& path, int64_t vocab_size) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(path + ": cannot open token shard");
  struct stat st {};
  ::fstat(fd, &st);
  mapped_bytes_ = static_cast<size_t>(st.st_size);
  if (mapped_bytes_ < 1024) {
    ::close(fd);
    throw Error(path + ": truncated token shard (" + std::to_string(mapped_bytes_) + " bytes, header needs 1024)");
  }
  mapping_ = ::mmap(nullptr, mapped_bytes_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping_ == MAP_FAILED) {
    mapping_ = nullptr;
    throw Error(path + ": cannot memory-map token shard");
  }
  const auto* header = static_cast<const int32_t*>(mapping_);
  try {
    if (header[0] != kShardMagic) {
      throw Error(path + ": not a token shard (magic " + std::to_string(header[0]) + ", expected " +
                  std::to_string(kShardMagic) + ")");
    }
    if (header[1] != kShardVersionU16 && header[1] != kShardVersionU32) {
      throw Error(path + ": unknown shard version " + std::to_string(header[1]) + " (1 = uint16, 2 = uint32)");
    }
    wide_ = header[1] == kShardVersionU32;
    count_ = header[2];
    const size_t expected = 1024 + size_t(count_) * (wide_ ? 4 : 2);
    if (count_ < 0 || mapped_bytes_ < expected) {
      throw Error(path + ": truncated token shard (header says " + std::to_string(count_) +
                  " tokens = " + std::to_string(expected) + " bytes, file has " + std::to_string(mapped_bytes_) + ")");
    }
    tokens_ = static_cast<const char*>(mapping_) + 1024;
    if (vocab_size > 0) {
      for (int64_t i = 0; i < count_; ++i) {
        if ((*this)[i] >= vocab_size) {
          throw Error(path + ": token " + std::to_string((*this)[i]) + " at position " + std::to_string(i) +
                      " is outside the vocabulary (size " + std::to_string(vocab_size) + ")");
        }
      }
    }
  } catch (...) {
    ::munmap(mapping_, mapped_bytes_);
    mapping_ = nullptr;
    throw;
  }
}

TokenShard::~TokenShard() {
  if (mapping_) ::munmap(mapping_, mapped_bytes_);
}

uint64_t TokenShard::checksum() const { return fnv1a64(mapping_, mapped_bytes_); }

std::vector<int64_t> count_tokens(const TokenShard& shard, int64_t vocab_size) {
  std::vector<int64_t> counts(vocab_size, 0);
  for (int64_t i = 0; i < shard.size(); ++i) ++counts[shard[i]];
  return counts;
}

}  // namespace kmoe
