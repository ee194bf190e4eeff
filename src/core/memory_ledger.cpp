#include "core/memory_ledger.hpp"

#include <cstring>

#include "core/views.hpp"

namespace kmoe {

namespace {

MemoryLedger ledger;
bool installed = false;

bool in_model_space(const Kokkos::Tools::SpaceHandle& space) { return std::strcmp(space.name, MemSpace::name()) == 0; }

void on_allocate(Kokkos::Tools::SpaceHandle space, const char*, const void*, uint64_t bytes) {
  ++ledger.allocations;
  if (!in_model_space(space)) return;
  ledger.current_bytes += bytes;
  if (ledger.current_bytes > ledger.peak_bytes) ledger.peak_bytes = ledger.current_bytes;
}

void on_deallocate(Kokkos::Tools::SpaceHandle space, const char*, const void*, uint64_t bytes) {
  if (in_model_space(space)) ledger.current_bytes -= bytes < ledger.current_bytes ? bytes : ledger.current_bytes;
}

}  // namespace

void start_memory_ledger() {
  if (installed) return;
  installed = true;
  Kokkos::Tools::Experimental::set_allocate_data_callback(on_allocate);
  Kokkos::Tools::Experimental::set_deallocate_data_callback(on_deallocate);
}

MemoryLedger memory_ledger() { return ledger; }

void reset_memory_peak() { ledger.peak_bytes = ledger.current_bytes; }

}  // namespace kmoe
