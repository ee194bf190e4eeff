#pragma once

#include <string>

namespace kmoe {

std::string kmoe_version();
std::string git_commit();
std::string kokkos_version();  // e.g. "3.4.1"

}  // namespace kmoe
