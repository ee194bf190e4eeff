// FNV-1a, 64-bit: a fast non-cryptographic checksum for files, checkpoints and fingerprints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kmoe {

inline uint64_t fnv1a64(const void* data, size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  return h;
}

inline uint64_t fnv1a64(const std::string& bytes) { return fnv1a64(bytes.data(), bytes.size()); }

}  // namespace kmoe
