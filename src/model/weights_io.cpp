#include "model/weights_io.hpp"

#include "core/error.hpp"
#include "io/hdf5_reader.hpp"
#include "io/hdf5_writer.hpp"

namespace kmoe {
namespace {
std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}
}  // namespace

template <class T>
void save_weights(const ParameterSet<T>& params, const std::string& path) {
  const auto values = Kokkos::create_mirror_view_and_copy(HostSpace(), params.values());
  Hdf5Writer out;
  for (const auto& s : params.specs()) {
    const std::vector<uint64_t> shape(s.shape.begin(), s.shape.end());
    out.write_array<T>(s.name, shape, values.data() + s.offset);
  }
  out.save(path, "weights");
}

template <class T>
void load_weights(ParameterSet<T>& params, const std::string& path) {
  const Hdf5Reader in(path);
  auto values = Kokkos::create_mirror_view_and_copy(HostSpace(), params.values());
  for (const auto& s : params.specs()) {
    const std::vector<uint64_t> expected(s.shape.begin(), s.shape.end());
    if (!in.has(s.name)) throw Error(path + ": weights file has no tensor '" + s.name + "'");
    const auto found = in.shape(s.name);
    if (found != expected) {
      throw Error(path + ": tensor '" + s.name + "' has shape " + shape_text(found) + ", the model needs " +
                  shape_text(expected));
    }
    const auto data = in.read<T>(s.name);
    std::copy(data.begin(), data.end(), values.data() + s.offset);
  }
  Kokkos::deep_copy(params.values(), values);
}

template void save_weights<float>(const ParameterSet<float>&, const std::string&);
template void save_weights<double>(const ParameterSet<double>&, const std::string&);
template void load_weights<float>(ParameterSet<float>&, const std::string&);
template void load_weights<double>(ParameterSet<double>&, const std::string&);

}  // namespace kmoe
