#include "core/kernel_census.hpp"

#include <Kokkos_Core.hpp>

namespace kmoe {

namespace {

KernelCensus census;
bool counting = false;

void on_launch(const char* name, uint32_t, uint64_t*) {
  ++census.launches;
  ++census.launches_by_name[name];
}

void on_reduce(const char* name, uint32_t device, uint64_t* id) {
  ++census.reductions;
  on_launch(name, device, id);
}

void on_deep_copy(Kokkos::Tools::SpaceHandle, const char*, const void*, Kokkos::Tools::SpaceHandle, const char*,
                  const void*, uint64_t) {
  ++census.deep_copies;
}

void on_allocation(Kokkos::Tools::SpaceHandle, const char*, const void*, uint64_t) { ++census.allocations; }

}  // namespace

void start_kernel_census() {
  namespace tools = Kokkos::Tools::Experimental;
  census = KernelCensus{};
  counting = true;
  tools::set_begin_parallel_for_callback(on_launch);
  tools::set_begin_parallel_scan_callback(on_launch);
  tools::set_begin_parallel_reduce_callback(on_reduce);
  tools::set_begin_deep_copy_callback(on_deep_copy);
  tools::set_allocate_data_callback(on_allocation);
}

KernelCensus stop_kernel_census() {
  namespace tools = Kokkos::Tools::Experimental;
  tools::set_begin_parallel_for_callback(nullptr);
  tools::set_begin_parallel_scan_callback(nullptr);
  tools::set_begin_parallel_reduce_callback(nullptr);
  tools::set_begin_deep_copy_callback(nullptr);
  tools::set_allocate_data_callback(nullptr);
  counting = false;
  return census;
}

void count_blas_call() {
  if (counting) ++census.blas_calls;
}

}  // namespace kmoe
