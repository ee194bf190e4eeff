#include <string>

#include "core/views.hpp"

namespace kmoe {

std::string backend_description() {
  std::string name = ExecSpace::name();
#if defined(KOKKOS_ENABLE_OPENMP)
  if (std::is_same<ExecSpace, Kokkos::OpenMP>::value) {
    name += " (" + std::to_string(ExecSpace().concurrency()) + " threads)";
  }
#endif
  return name;
}

}  // namespace kmoe
