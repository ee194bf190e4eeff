// Bytes held in Kokkos allocations of the model's memory space (CudaSpace on a GPU build, the
// host's space otherwise), now and at the peak, through the Kokkos Tools allocation callbacks.
// The trainer records the peak as /final/peak_device_memory_mib; the kernel census counts
// allocations here. BLAS libraries' own workspaces are not Kokkos allocations and not counted.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kmoe {

// Installs the callbacks (once; later calls do nothing). Allocations made before are not seen.
void start_memory_ledger();

struct MemoryLedger {
  uint64_t current_bytes = 0, peak_bytes = 0;
  std::size_t allocations = 0;  // in any space
};
MemoryLedger memory_ledger();

// Starts a new peak from the current holding (e.g. after a test's setup).
void reset_memory_peak();

}  // namespace kmoe
