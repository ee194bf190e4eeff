#include "core/peak_memory.hpp"

#include <fstream>
#include <string>

namespace kmoe {

double peak_host_memory_mib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  }
  return 0;
}

}  // namespace kmoe
