#include "io/hdf5_writer.hpp"

#include "core/error.hpp"
#include "io/hdf5_native_type.hpp"

#include <hdf5.h>

#include <cstdio>
#include <numeric>

namespace kmoe {
namespace {

void check_h5(herr_t status, const std::string& what) {
  if (status < 0) throw Error("HDF5: " + what + " failed");
}

hid_t link_creation_with_parents() {
  const hid_t props = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(props, 1);
  return props;
}

}  // namespace

Hdf5Writer::Hdf5Writer(const std::string& final_path) : final_path_(final_path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported as kmoe::Error
  const hid_t access = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
  // No lock: readers (h5py) may open the record while the run is writing it; rows are
  // flushed at every evaluation.
  H5Pset_file_locking(access, 0, 1);
#endif
  file_ = H5Fcreate(partial_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access);
  H5Pclose(access);
  if (file_ < 0) throw Error(partial_path() + ": cannot create HDF5 file");
}

Hdf5Writer::~Hdf5Writer() { close_handles(); }

int64_t Hdf5Writer::ensure_object(const std::string& object) {
  if (object == "/" || H5Lexists(file_, object.c_str(), H5P_DEFAULT) > 0) {
    return H5Oopen(file_, object.c_str(), H5P_DEFAULT);
  }
  const hid_t props = link_creation_with_parents();
  const hid_t group = H5Gcreate2(file_, object.c_str(), props, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(props);
  if (group < 0) throw Error(partial_path() + ": cannot create group " + object);
  return group;
}

void Hdf5Writer::set_attribute(const std::string& object, const std::string& name,
                               const std::string& value) {
  const hid_t target = ensure_object(object);
  if (H5Aexists(target, name.c_str()) > 0) H5Adelete(target, name.c_str());
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(target, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  const char* text = value.c_str();
  const herr_t status = attr < 0 ? -1 : H5Awrite(attr, type, &text);
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  H5Oclose(target);
  check_h5(status, "writing attribute " + object + "@" + name);
}

namespace {
void write_scalar_attribute(hid_t target, const std::string& name, hid_t type, const void* v) {
  if (H5Aexists(target, name.c_str()) > 0) H5Adelete(target, name.c_str());
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(target, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  const herr_t status = attr < 0 ? -1 : H5Awrite(attr, type, v);
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  check_h5(status, "writing attribute " + name);
}
}  // namespace

void Hdf5Writer::set_attribute(const std::string& object, const std::string& name, double value) {
  const hid_t target = ensure_object(object);
  write_scalar_attribute(target, name, H5T_NATIVE_DOUBLE, &value);
  H5Oclose(target);
}

void Hdf5Writer::set_attribute(const std::string& object, const std::string& name, int64_t value) {
  const hid_t target = ensure_object(object);
  write_scalar_attribute(target, name, H5T_NATIVE_INT64, &value);
  H5Oclose(target);
}

void Hdf5Writer::create_series_impl(const std::string& path,
                                    const std::vector<uint64_t>& row_shape, int64_t type) {
  if (series_.count(path)) throw Error(partial_path() + ": series " + path + " exists");
  const int rank = static_cast<int>(row_shape.size()) + 1;
  std::vector<hsize_t> dims(rank, 0), max_dims(rank, H5S_UNLIMITED), chunk(rank, 1);
  const uint64_t row_elems = std::accumulate(row_shape.begin(), row_shape.end(), uint64_t{1},
                                             std::multiplies<uint64_t>());
  for (size_t i = 0; i < row_shape.size(); ++i) {
    dims[i + 1] = max_dims[i + 1] = chunk[i + 1] = row_shape[i];
  }
  chunk[0] = std::max<hsize_t>(1, 4096 / std::max<uint64_t>(1, row_elems));
  const hid_t space = H5Screate_simple(rank, dims.data(), max_dims.data());
  const hid_t props = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(props, rank, chunk.data());
  const hid_t links = link_creation_with_parents();
  const hid_t dataset = H5Dcreate2(file_, path.c_str(), type, space, links, props, H5P_DEFAULT);
  H5Pclose(links);
  H5Pclose(props);
  H5Sclose(space);
  if (dataset < 0) throw Error(partial_path() + ": cannot create dataset " + path);
  series_[path] = Series{dataset, row_shape, 0};
}

void Hdf5Writer::append_impl(const std::string& path, const void* row, int64_t type) {
  const auto it = series_.find(path);
  if (it == series_.end()) throw Error(partial_path() + ": no series " + path);
  Series& s = it->second;
  const int rank = static_cast<int>(s.row_shape.size()) + 1;
  std::vector<hsize_t> new_dims(rank), start(rank, 0), count(rank);
  new_dims[0] = s.rows + 1;
  count[0] = 1;
  start[0] = s.rows;
  for (size_t i = 0; i < s.row_shape.size(); ++i) new_dims[i + 1] = count[i + 1] = s.row_shape[i];
  check_h5(H5Dset_extent(s.dataset, new_dims.data()), "extending " + path);
  const hid_t file_space = H5Dget_space(s.dataset);
  H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  const hid_t mem_space = H5Screate_simple(rank, count.data(), nullptr);
  const herr_t status = H5Dwrite(s.dataset, type, mem_space, file_space, H5P_DEFAULT, row);
  H5Sclose(mem_space);
  H5Sclose(file_space);
  check_h5(status, "appending to " + path);
  ++s.rows;
}

void Hdf5Writer::write_array_impl(const std::string& path, const std::vector<uint64_t>& shape,
                                  const void* data, int64_t type) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  const hid_t space = dims.empty() ? H5Screate(H5S_SCALAR)
                                   : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t links = link_creation_with_parents();
  const hid_t dataset = H5Dcreate2(file_, path.c_str(), type, space, links, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(links);
  const herr_t status = dataset < 0 ? -1 : H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  if (dataset >= 0) H5Dclose(dataset);
  H5Sclose(space);
  check_h5(status, "writing " + path + " to " + partial_path());
}

template <class T>
void Hdf5Writer::create_series(const std::string& path, const std::vector<uint64_t>& row_shape) {
  create_series_impl(path, row_shape, hdf5_native_type<T>());
}
template <class T>
void Hdf5Writer::append(const std::string& path, const T* row) {
  append_impl(path, row, hdf5_native_type<T>());
}
template <class T>
void Hdf5Writer::write_array(const std::string& path, const std::vector<uint64_t>& shape,
                             const T* data) {
  write_array_impl(path, shape, data, hdf5_native_type<T>());
}

#define KMOE_HDF5_WRITER_TYPE(T)                                                            \
  template void Hdf5Writer::create_series<T>(const std::string&, const std::vector<uint64_t>&); \
  template void Hdf5Writer::append<T>(const std::string&, const T*);                         \
  template void Hdf5Writer::write_array<T>(const std::string&, const std::vector<uint64_t>&, \
                                           const T*);
KMOE_HDF5_WRITER_TYPE(double)
KMOE_HDF5_WRITER_TYPE(float)
KMOE_HDF5_WRITER_TYPE(int64_t)
KMOE_HDF5_WRITER_TYPE(uint8_t)
#undef KMOE_HDF5_WRITER_TYPE

void Hdf5Writer::flush() {
  if (file_ >= 0) check_h5(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flushing " + partial_path());
}

void Hdf5Writer::close_handles() {
  for (auto& [name, s] : series_) {
    if (s.dataset >= 0) H5Dclose(s.dataset);
    s.dataset = -1;
  }
  series_.clear();
  if (file_ >= 0) H5Fclose(file_);
  file_ = -1;
}

void Hdf5Writer::close() {
  if (file_ < 0) return;
  flush();
  close_handles();
  if (std::rename(partial_path().c_str(), final_path_.c_str()) != 0) {
    throw Error("cannot rename " + partial_path() + " to " + final_path_);
  }
}

}  // namespace kmoe
