// HDF5 memory type of a C++ element type (internal to src/io).
#pragma once

#include <hdf5.h>

#include <cstdint>

namespace kmoe {

template <class T>
hid_t hdf5_native_type();
template <>
inline hid_t hdf5_native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
inline hid_t hdf5_native_type<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
inline hid_t hdf5_native_type<int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
inline hid_t hdf5_native_type<uint8_t>() {
  return H5T_NATIVE_UINT8;
}

}  // namespace kmoe
