// Length-prefixed binary encoding for checkpoints: a writer that appends plain values and
// byte strings, and a reader that throws kmoe::Error naming the file when the data run out.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.hpp"

namespace kmoe {

class ByteWriter {
 public:
  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable<T>::value, "plain values only");
    put_bytes(&v, sizeof(T));
  }
  void put_bytes(const void* data, size_t n) { bytes_.append(static_cast<const char*>(data), n); }
  void put_string(const std::string& s) {
    put(uint64_t(s.size()));
    put_bytes(s.data(), s.size());
  }
  template <class T>
  void put_vector(const std::vector<T>& v) {
    put(uint64_t(v.size()));
    put_bytes(v.data(), v.size() * sizeof(T));
  }
  // Overwrites a value written earlier at `offset` (e.g. a size known only at the end).
  template <class T>
  void patch(size_t offset, const T& v) {
    static_assert(std::is_trivially_copyable<T>::value, "plain values only");
    std::memcpy(&bytes_[offset], &v, sizeof(T));
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

class ByteReader {
 public:
  ByteReader(const std::string& bytes, std::string source) : bytes_(bytes), source_(std::move(source)) {}
  template <class T>
  T get() {
    T v;
    get_bytes(&v, sizeof(T));
    return v;
  }
  void get_bytes(void* out, size_t n) {
    if (n > bytes_.size() - pos_) throw Error(source_ + ": data are truncated");
    std::memcpy(out, bytes_.data() + pos_, n);
    pos_ += n;
  }
  std::string get_string() {
    std::string s(checked_count(1), '\0');
    get_bytes(s.data(), s.size());
    return s;
  }
  template <class T>
  std::vector<T> get_vector() {
    std::vector<T> v(checked_count(sizeof(T)));
    get_bytes(v.data(), v.size() * sizeof(T));
    return v;
  }

 private:
  size_t checked_count(size_t element_size) {
    const auto n = get<uint64_t>();
    if (n > (bytes_.size() - pos_) / element_size) throw Error(source_ + ": data are truncated");
    return size_t(n);
  }
  const std::string& bytes_;
  std::string source_;
  size_t pos_ = 0;
};

}  // namespace kmoe
