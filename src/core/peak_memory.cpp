#include "core/peak_memory.hpp"

#include "core/views.hpp"

#ifdef KOKKOS_ENABLE_CUDA
#include <cuda_runtime_api.h>
#endif

#include <fstream>
#include <string>

namespace kmoe {
namespace {

// The value of "<key>: N kB" in a /proc file, in MiB; negative when absent.
double proc_kib_value_in_mib(const char* file, const std::string& key) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size())) / 1024.0;
  }
  return -1;
}

}  // namespace

double peak_host_memory_mib() {
  const double mib = proc_kib_value_in_mib("/proc/self/status", "VmHWM:");
  return mib < 0 ? 0 : mib;
}

double available_host_memory_mib() { return proc_kib_value_in_mib("/proc/meminfo", "MemAvailable:"); }

double available_device_memory_mib() {
#ifdef KOKKOS_ENABLE_CUDA
  if constexpr (std::is_same_v<MemSpace, Kokkos::CudaSpace>) {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) return double(free_bytes) / kMiB;
  }
#endif
  return -1;
}

}  // namespace kmoe
