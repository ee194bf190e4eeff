#include "io/hdf5_writer.hpp"

#include <hdf5.h>

#include <atomic>

#include "core/error.hpp"
#include "io/atomic_file.hpp"
#include "io/hdf5_native_type.hpp"

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

// The core driver needs a name per open file even without a backing store.
std::string unique_memory_name() {
  static std::atomic<long> counter{0};
  return "kmoe-memory-" + std::to_string(counter++) + ".h5";
}

}  // namespace

Hdf5Writer::Hdf5Writer() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported as kmoe::Error
  const hid_t access = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_core(access, 1 << 20, 0);
  file_ = H5Fcreate(unique_memory_name().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access);
  H5Pclose(access);
  if (file_ < 0) throw Error("HDF5: cannot create an in-memory file");
}

Hdf5Writer::~Hdf5Writer() {
  if (file_ >= 0) H5Fclose(file_);
}

int64_t Hdf5Writer::ensure_object(const std::string& object) {
  if (object == "/" || H5Lexists(file_, object.c_str(), H5P_DEFAULT) > 0) {
    return H5Oopen(file_, object.c_str(), H5P_DEFAULT);
  }
  const hid_t props = link_creation_with_parents();
  const hid_t group = H5Gcreate2(file_, object.c_str(), props, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(props);
  if (group < 0) throw Error("HDF5: cannot create group " + object);
  return group;
}

void Hdf5Writer::set_attribute(const std::string& object, const std::string& name, const std::string& value) {
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

void Hdf5Writer::write_array_impl(const std::string& path, const std::vector<uint64_t>& shape, const void* data,
                                  int64_t type) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  hsize_t elements = 1;
  for (auto d : dims) elements *= d;
  const hid_t space =
      dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t links = link_creation_with_parents();
  const hid_t dataset = H5Dcreate2(file_, path.c_str(), type, space, links, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(links);
  herr_t status = dataset < 0 ? -1 : 0;
  if (dataset >= 0 && elements > 0) status = H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  if (dataset >= 0) H5Dclose(dataset);
  H5Sclose(space);
  check_h5(status, "writing " + path);
}

template <class T>
void Hdf5Writer::write_array(const std::string& path, const std::vector<uint64_t>& shape, const T* data) {
  write_array_impl(path, shape, data, hdf5_native_type<T>());
}

template void Hdf5Writer::write_array<double>(const std::string&, const std::vector<uint64_t>&, const double*);
template void Hdf5Writer::write_array<float>(const std::string&, const std::vector<uint64_t>&, const float*);
template void Hdf5Writer::write_array<int64_t>(const std::string&, const std::vector<uint64_t>&, const int64_t*);
template void Hdf5Writer::write_array<uint8_t>(const std::string&, const std::vector<uint64_t>&, const uint8_t*);

std::string Hdf5Writer::image() const {
  check_h5(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flushing an in-memory file");
  const ssize_t size = H5Fget_file_image(file_, nullptr, 0);
  if (size < 0) throw Error("HDF5: cannot size the file image");
  std::string bytes(size_t(size), '\0');
  if (H5Fget_file_image(file_, bytes.data(), bytes.size()) != size) throw Error("HDF5: cannot copy the file image");
  return bytes;
}

void Hdf5Writer::save(const std::string& path, const std::string& what) const {
  write_file_atomically(path, image(), what);
}

}  // namespace kmoe
