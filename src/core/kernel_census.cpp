#include "core/kernel_census.hpp"

#include <Kokkos_Core.hpp>

#include "core/memory_ledger.hpp"

namespace kmoe {

namespace {

KernelCensus census;
bool counting = false;
std::size_t allocations_at_start = 0;

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

}  // namespace

void start_kernel_census() {
  namespace tools = Kokkos::Tools::Experimental;
  census = KernelCensus{};
  counting = true;
  start_memory_ledger();  // allocations are counted there
  allocations_at_start = memory_ledger().allocations;
  tools::set_begin_parallel_for_callback(on_launch);
  tools::set_begin_parallel_scan_callback(on_launch);
  tools::set_begin_parallel_reduce_callback(on_reduce);
  tools::set_begin_deep_copy_callback(on_deep_copy);
}

KernelCensus stop_kernel_census() {
  namespace tools = Kokkos::Tools::Experimental;
  tools::set_begin_parallel_for_callback(nullptr);
  tools::set_begin_parallel_scan_callback(nullptr);
  tools::set_begin_parallel_reduce_callback(nullptr);
  tools::set_begin_deep_copy_callback(nullptr);
  counting = false;
  census.allocations = memory_ledger().allocations - allocations_at_start;
  return census;
}

void count_blas_call() {
  if (counting) ++census.blas_calls;
}

}  // namespace kmoe
