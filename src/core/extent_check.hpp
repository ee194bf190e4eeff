// Shape checks at the kernels' entry points. The kernels index raw extents, so a caller's shape
// mistake reads past a buffer; in debug builds (KMOE_CHECK_EXTENTS, set for CMAKE_BUILD_TYPE
// Debug) each entry point names the kernel and the shapes instead, as Kokkos Kernels' gemm does.
// Release builds compile the checks away.
#pragma once

#include <cstddef>
#include <string>

#include "core/error.hpp"

namespace kmoe {

// "rows×cols" (or "n" for a vector).
template <class V>
std::string shape_text(const V& view) {
  if constexpr (V::rank == 1) {
    return std::to_string(view.extent(0));
  } else {
    return std::to_string(view.extent(0)) + "x" + std::to_string(view.extent(1));
  }
}

// "" when `view` is rows × cols (a negative extent matches any); else the mismatch, named.
template <class V>
std::string extent_problem(const char* name, const V& view, long rows, long cols = -1) {
  const bool rows_ok = rows < 0 || view.extent(0) == size_t(rows);
  bool cols_ok = true;
  if constexpr (V::rank > 1) cols_ok = cols < 0 || view.extent(1) == size_t(cols);
  if (rows_ok && cols_ok) return "";
  std::string wanted = rows < 0 ? "any" : std::to_string(rows);
  if constexpr (V::rank > 1) wanted += "x" + (cols < 0 ? std::string("any") : std::to_string(cols));
  return std::string(name) + " is " + shape_text(view) + ", expected " + wanted;
}

template <class V>
void require_extents(const char* kernel, const char* name, const V& view, long rows, long cols = -1) {
  const std::string problem = extent_problem(name, view, rows, cols);
  if (!problem.empty()) throw Error(std::string(kernel) + ": " + problem);
}

}  // namespace kmoe

#ifdef KMOE_CHECK_EXTENTS
#define KMOE_CHECK_EXTENTS_OF(kernel, view, ...) ::kmoe::require_extents(kernel, #view, view, __VA_ARGS__)
#else
#define KMOE_CHECK_EXTENTS_OF(kernel, view, ...) ((void)0)
#endif
