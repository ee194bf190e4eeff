// Execution/memory space and View aliases used across kmoe. Tensors are row-major (LayoutRight).
#pragma once

#include <Kokkos_Core.hpp>
#include <cstdint>
#include <string>
#include <type_traits>

namespace kmoe {

#ifdef KMOE_FORCE_SERIAL  // the kmoe_serial variant: Serial backend, for cross-backend checks
using ExecSpace = Kokkos::Serial;
#else
using ExecSpace = Kokkos::DefaultExecutionSpace;
#endif
using MemSpace = ExecSpace::memory_space;
using HostSpace = Kokkos::HostSpace;
// Host tasks (tiles of BLAS calls) run on the model's execution space where it is the host (the
// Serial variant stays serial), else on the default host space.
using HostExec = std::conditional_t<Kokkos::SpaceAccessibility<ExecSpace, HostSpace>::accessible, ExecSpace,
                                    Kokkos::DefaultHostExecutionSpace>;

template <class T>
using View1 = Kokkos::View<T*, Kokkos::LayoutRight, MemSpace>;
template <class T>
using View2 = Kokkos::View<T**, Kokkos::LayoutRight, MemSpace>;
template <class T>
using HostView1 = Kokkos::View<T*, Kokkos::LayoutRight, HostSpace>;

using Range = Kokkos::RangePolicy<ExecSpace>;
// (matrix of a batch, element): a batch's elementwise work without dividing indices.
using MatrixElements = Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>, Kokkos::IndexType<int64_t>>;
using TeamPolicy = Kokkos::TeamPolicy<ExecSpace>;
using Member = TeamPolicy::member_type;

// The first `rows` rows of a buffer allocated for more: buffers sized for the largest batch
// serve smaller ones without reallocating (rows are the leading dimension, so the slice stays
// contiguous).
template <class V>
V first_rows(const V& v, size_t rows) {
  if constexpr (V::rank == 1) {
    return Kokkos::subview(v, Kokkos::make_pair(size_t(0), rows));
  } else {
    return Kokkos::subview(v, Kokkos::make_pair(size_t(0), rows), Kokkos::ALL());
  }
}

// Human-readable description of the default execution space, e.g. "OpenMP (2 threads)".
std::string backend_description();

}  // namespace kmoe
