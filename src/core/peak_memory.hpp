// Host memory facts from /proc.
#pragma once

namespace kmoe {

// Peak resident set size of this process in MiB (VmHWM), 0 where /proc is unavailable.
double peak_host_memory_mib();

// Memory the kernel could give this process without swapping (MemAvailable) in MiB;
// negative where /proc/meminfo is unavailable.
double available_host_memory_mib();

}  // namespace kmoe
