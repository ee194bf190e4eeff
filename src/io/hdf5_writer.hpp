// A small HDF5 writer for run records: attributes, extendible per-step series, fixed arrays.
// The file lives under "<path>.partial" until close() renames it to <path>, so a crashed
// run never leaves a file that looks complete.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kmoe {

class Hdf5Writer {
 public:
  // Creates (truncates) "<final_path>.partial".
  explicit Hdf5Writer(const std::string& final_path);
  ~Hdf5Writer();  // closes without renaming if close() was not called
  Hdf5Writer(const Hdf5Writer&) = delete;
  Hdf5Writer& operator=(const Hdf5Writer&) = delete;

  const std::string& final_path() const { return final_path_; }
  std::string partial_path() const { return final_path_ + ".partial"; }

  // Attributes on an object ("/" for the file root, or a group path created on demand).
  // Writing an existing attribute replaces it.
  void set_attribute(const std::string& object, const std::string& name, const std::string& value);
  void set_attribute(const std::string& object, const std::string& name, double value);
  void set_attribute(const std::string& object, const std::string& name, int64_t value);

  // An extendible, chunked dataset of shape [rows, row_shape...], initially 0 rows.
  // Element type follows the append() calls: T = double, float, int64_t or uint8_t.
  template <class T>
  void create_series(const std::string& path, const std::vector<uint64_t>& row_shape);
  // Appends one row (prod(row_shape) elements, row-major).
  template <class T>
  void append(const std::string& path, const T* row);
  template <class T>
  void append(const std::string& path, T value) { append<T>(path, &value); }

  // A fixed dataset written in one go (empty shape: a scalar).
  template <class T>
  void write_array(const std::string& path, const std::vector<uint64_t>& shape, const T* data);

  void flush();
  // Flushes, closes and renames "<path>.partial" to <path>.
  void close();

 private:
  struct Series {
    int64_t dataset = -1;
    std::vector<uint64_t> row_shape;
    uint64_t rows = 0;
  };
  int64_t ensure_object(const std::string& object);
  void create_series_impl(const std::string& path, const std::vector<uint64_t>& row_shape,
                          int64_t type);
  void append_impl(const std::string& path, const void* row, int64_t type);
  void write_array_impl(const std::string& path, const std::vector<uint64_t>& shape,
                        const void* data, int64_t type);
  void close_handles();

  std::string final_path_;
  int64_t file_ = -1;
  std::map<std::string, Series> series_;
};

}  // namespace kmoe
