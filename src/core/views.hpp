// Execution/memory space and View aliases used across kmoe. Tensors are row-major (LayoutRight).
#pragma once

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>

namespace kmoe {

#ifdef KMOE_FORCE_SERIAL  // the kmoe_serial variant: Serial backend, for cross-backend checks
using ExecSpace = Kokkos::Serial;
#else
using ExecSpace = Kokkos::DefaultExecutionSpace;
#endif
using MemSpace = ExecSpace::memory_space;
using HostSpace = Kokkos::HostSpace;

template <class T> using View1 = Kokkos::View<T*, Kokkos::LayoutRight, MemSpace>;
template <class T> using View2 = Kokkos::View<T**, Kokkos::LayoutRight, MemSpace>;
template <class T> using View3 = Kokkos::View<T***, Kokkos::LayoutRight, MemSpace>;
template <class T> using HostView1 = Kokkos::View<T*, Kokkos::LayoutRight, HostSpace>;

using Range = Kokkos::RangePolicy<ExecSpace>;
using TeamPolicy = Kokkos::TeamPolicy<ExecSpace>;
using Member = TeamPolicy::member_type;

// Human-readable description of the default execution space, e.g. "OpenMP (2 threads)".
std::string backend_description();

}  // namespace kmoe
