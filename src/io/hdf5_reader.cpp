#include "io/hdf5_reader.hpp"

#include <hdf5.h>

#include "core/error.hpp"
#include "io/hdf5_native_type.hpp"

namespace kmoe {
Hdf5Reader::Hdf5Reader(const std::string& path) : path_(path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) throw Error(path + ": cannot open as HDF5");
}

Hdf5Reader::~Hdf5Reader() {
  if (file_ >= 0) H5Fclose(file_);
}

bool Hdf5Reader::has(const std::string& dataset) const { return H5Lexists(file_, dataset.c_str(), H5P_DEFAULT) > 0; }

std::vector<uint64_t> Hdf5Reader::shape(const std::string& dataset) const {
  const hid_t d = H5Dopen2(file_, dataset.c_str(), H5P_DEFAULT);
  if (d < 0) throw Error(path_ + ": no dataset '" + dataset + "'");
  const hid_t space = H5Dget_space(d);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  H5Sclose(space);
  H5Dclose(d);
  return std::vector<uint64_t>(dims.begin(), dims.end());
}

template <class T>
std::vector<T> Hdf5Reader::read(const std::string& dataset) const {
  uint64_t count = 1;
  for (uint64_t n : shape(dataset)) count *= n;
  std::vector<T> out(count);
  const hid_t d = H5Dopen2(file_, dataset.c_str(), H5P_DEFAULT);
  const herr_t status = H5Dread(d, hdf5_native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
  H5Dclose(d);
  if (status < 0) throw Error(path_ + ": cannot read dataset '" + dataset + "'");
  return out;
}

std::string Hdf5Reader::string_attribute(const std::string& object, const std::string& name) const {
  const hid_t attr = H5Aopen_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0) throw Error(path_ + ": no attribute " + object + "@" + name);
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  char* text = nullptr;
  const herr_t status = H5Aread(attr, type, &text);
  std::string value = (status >= 0 && text) ? text : "";
  if (text) H5free_memory(text);
  H5Tclose(type);
  H5Aclose(attr);
  if (status < 0) throw Error(path_ + ": cannot read attribute " + object + "@" + name);
  return value;
}

double Hdf5Reader::number_attribute(const std::string& object, const std::string& name) const {
  const hid_t attr = H5Aopen_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0) throw Error(path_ + ": no attribute " + object + "@" + name);
  double value = 0;
  const herr_t status = H5Aread(attr, H5T_NATIVE_DOUBLE, &value);
  H5Aclose(attr);
  if (status < 0) throw Error(path_ + ": cannot read attribute " + object + "@" + name);
  return value;
}

template std::vector<double> Hdf5Reader::read<double>(const std::string&) const;
template std::vector<float> Hdf5Reader::read<float>(const std::string&) const;
template std::vector<int64_t> Hdf5Reader::read<int64_t>(const std::string&) const;

}  // namespace kmoe
