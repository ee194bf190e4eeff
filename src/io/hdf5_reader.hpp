// Reads datasets and attributes from HDF5 files (weights, records being resumed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kmoe {

class Hdf5Reader {
 public:
  explicit Hdf5Reader(const std::string& path);  // throws kmoe::Error naming the file
  ~Hdf5Reader();
  Hdf5Reader(const Hdf5Reader&) = delete;
  Hdf5Reader& operator=(const Hdf5Reader&) = delete;

  const std::string& path() const { return path_; }
  bool has(const std::string& dataset) const;
  std::vector<uint64_t> shape(const std::string& dataset) const;
  // The whole dataset converted to T (double, float or int64_t), row-major.
  template <class T>
  std::vector<T> read(const std::string& dataset) const;
  std::string string_attribute(const std::string& object, const std::string& name) const;
  double number_attribute(const std::string& object, const std::string& name) const;

 private:
  std::string path_;
  int64_t file_ = -1;
};

}  // namespace kmoe
