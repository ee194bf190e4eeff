// A small HDF5 writer: attributes and fixed arrays, built in memory (HDF5's core driver, no
// backing store) and written to disk in one atomic step by save(). HDF5 itself never touches
// the disk, so a crash or a full disk cannot leave a half-written or unreadable file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kmoe {

class Hdf5Writer {
 public:
  Hdf5Writer();
  ~Hdf5Writer();
  Hdf5Writer(const Hdf5Writer&) = delete;
  Hdf5Writer& operator=(const Hdf5Writer&) = delete;

  // Attributes on an object ("/" for the file root, or a group path created on demand).
  // Writing an existing attribute replaces it.
  void set_attribute(const std::string& object, const std::string& name, const std::string& value);
  void set_attribute(const std::string& object, const std::string& name, double value);
  void set_attribute(const std::string& object, const std::string& name, int64_t value);

  // A dataset written in one go (empty shape: a scalar; a zero extent is allowed).
  // T = double, float, int64_t or uint8_t.
  template <class T>
  void write_array(const std::string& path, const std::vector<uint64_t>& shape, const T* data);

  // The whole file as bytes.
  std::string image() const;
  // Writes the file to `path` atomically (see io/atomic_file.hpp); `what` names it in errors.
  void save(const std::string& path, const std::string& what) const;

 private:
  int64_t ensure_object(const std::string& object);
  void write_array_impl(const std::string& path, const std::vector<uint64_t>& shape, const void* data, int64_t type);

  int64_t file_ = -1;
};

}  // namespace kmoe
