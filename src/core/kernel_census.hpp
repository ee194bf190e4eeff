// Counts what Kokkos does between start and stop, through the Kokkos Tools callbacks: kernel
// launches (parallel_for / reduce / scan, by name), deep copies and allocations; and the BLAS
// calls kmoe's matrix-product kernels make, which Kokkos does not see. Tests use it
// to show that a training step's launches do not grow with the batch, heads or experts and that
// a step allocates nothing; benchmarks to list the kernels of a step.
#pragma once

#include <cstddef>
#include <map>
#include <string>

namespace kmoe {

struct KernelCensus {
  std::size_t launches = 0, reductions = 0, deep_copies = 0, allocations = 0, blas_calls = 0;
  std::map<std::string, int> launches_by_name;
};

// Only one census runs at a time; it replaces any Kokkos Tools launch and copy callbacks while it
// runs (allocations come from core/memory_ledger, which it starts).
void start_kernel_census();
KernelCensus stop_kernel_census();

// Called by the matrix-product kernels for each library call they issue: every cuBLAS call on a
// device (a batched one counts once); on the host, each parallel region of single-threaded BLAS
// tiles counts once (it is one launch, whatever its tiles).
void count_blas_call();

}  // namespace kmoe
