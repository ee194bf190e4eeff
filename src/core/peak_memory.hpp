// Memory facts: the host's from /proc, the GPU's from the CUDA runtime.
#pragma once

namespace kmoe {

constexpr double kMiB = 1024.0 * 1024.0;  // bytes

// Peak resident set size of this process in MiB (VmHWM), 0 where /proc is unavailable.
double peak_host_memory_mib();

// Memory the kernel could give this process without swapping (MemAvailable) in MiB;
// negative where /proc/meminfo is unavailable.
double available_host_memory_mib();

// Free memory of the GPU the model runs on (cudaMemGetInfo) in MiB; negative on host builds.
double available_device_memory_mib();

}  // namespace kmoe
