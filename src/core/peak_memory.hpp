#pragma once

namespace kmoe {

// Peak resident set size of this process in MiB (VmHWM), 0 where /proc is unavailable.
double peak_host_memory_mib();

}  // namespace kmoe
