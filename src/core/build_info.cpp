#include "core/build_info.hpp"

#include <Kokkos_Core.hpp>

namespace kmoe {

std::string kmoe_version() { return KMOE_VERSION; }
std::string git_commit() { return KMOE_GIT_COMMIT; }
std::string kokkos_version() {
  return std::to_string(KOKKOS_VERSION / 10000) + "." + std::to_string(KOKKOS_VERSION / 100 % 100) + "." +
         std::to_string(KOKKOS_VERSION % 100);
}

}  // namespace kmoe
