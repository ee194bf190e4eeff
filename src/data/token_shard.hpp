// Token shards in the llm.c layout: 256 int32 header (magic 20240520, version, token count),
// then the tokens — uint16 (version 1, as llm.c / nanoGPT tools write) or uint32 (version 2,
// kmoe's variant for vocabularies above 65,535). Shards are memory-mapped for reading.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kmoe {

constexpr int32_t kShardMagic = 20240520;
constexpr int32_t kShardVersionU16 = 1;
constexpr int32_t kShardVersionU32 = 2;

// Written to "<path>.partial" and renamed. uint16 when every token fits, else uint32.
void write_token_shard(const std::string& path, const std::vector<uint32_t>& tokens, int vocab_size);

class TokenShard {
 public:
  // Validates magic, version, size and (when vocab_size > 0) that every token < vocab_size;
  // each failure is a kmoe::Error naming the file.
  TokenShard(const std::string& path, int64_t vocab_size);
  ~TokenShard();
  TokenShard(const TokenShard&) = delete;
  TokenShard& operator=(const TokenShard&) = delete;

  int64_t size() const { return count_; }
  uint32_t operator[](int64_t i) const {
    return wide_ ? reinterpret_cast<const uint32_t*>(tokens_)[i] : reinterpret_cast<const uint16_t*>(tokens_)[i];
  }
  const std::string& path() const { return path_; }
  int32_t version() const { return wide_ ? kShardVersionU32 : kShardVersionU16; }
  // FNV-1a 64 of the whole file: the shard's identity in checkpoints and records.
  uint64_t checksum() const;

 private:
  std::string path_;
  void* mapping_ = nullptr;
  size_t mapped_bytes_ = 0;
  const void* tokens_ = nullptr;
  int64_t count_ = 0;
  bool wide_ = false;
};

// How often each token id occurs in the shard ([vocab_size]).
std::vector<int64_t> count_tokens(const TokenShard& shard, int64_t vocab_size);

}  // namespace kmoe
