// The one place that papers over API differences between Kokkos / Kokkos Kernels 3.4 and 4.x.
#pragma once

#include <KokkosKernels_config.h>

#include <Kokkos_Core.hpp>
#include <cstdlib>
#include <string>

#if KOKKOS_VERSION >= 30700
#define KMOE_KOKKOS_MATH_NS Kokkos
#else
#define KMOE_KOKKOS_MATH_NS Kokkos::Experimental
#endif

// Kokkos Kernels 3.4 defines no version macro at all.
#ifndef KOKKOSKERNELS_VERSION
#define KMOE_KOKKOSKERNELS_VERSION 30400
#else
#define KMOE_KOKKOSKERNELS_VERSION KOKKOSKERNELS_VERSION
#endif

namespace kmoe::math {

template <class T>
KOKKOS_INLINE_FUNCTION T exp(T x) {
  return KMOE_KOKKOS_MATH_NS::exp(x);
}
template <class T>
KOKKOS_INLINE_FUNCTION T log(T x) {
  return KMOE_KOKKOS_MATH_NS::log(x);
}
template <class T>
KOKKOS_INLINE_FUNCTION T sqrt(T x) {
  return KMOE_KOKKOS_MATH_NS::sqrt(x);
}
template <class T>
KOKKOS_INLINE_FUNCTION T cos(T x) {
  return KMOE_KOKKOS_MATH_NS::cos(x);
}
template <class T>
KOKKOS_INLINE_FUNCTION T sin(T x) {
  return KMOE_KOKKOS_MATH_NS::sin(x);
}
template <class T>
KOKKOS_INLINE_FUNCTION T pow(T x, T y) {
  return KMOE_KOKKOS_MATH_NS::pow(x, y);
}
template <class T>
KOKKOS_INLINE_FUNCTION T fmax(T x, T y) {
  return KMOE_KOKKOS_MATH_NS::fmax(x, y);
}
template <class T>
KOKKOS_INLINE_FUNCTION bool isfinite(T x) {
  return KMOE_KOKKOS_MATH_NS::isfinite(x);
}
// 1 / (1 + e^−x), with the accurate exp (SiLU's hot loop uses fast_exp instead).
template <class T>
KOKKOS_INLINE_FUNCTION T sigmoid(T x) {
  return T(1) / (T(1) + KMOE_KOKKOS_MATH_NS::exp(-x));
}

template <class T>
KOKKOS_INLINE_FUNCTION T rsqrt(T x) {
#if KOKKOS_VERSION >= 40100
  return Kokkos::rsqrt(x);
#else
  return T(1) / KMOE_KOKKOS_MATH_NS::sqrt(x);
#endif
}

// Most negative finite value (a -inf stand-in that keeps exp() differences finite).
template <class T>
KOKKOS_INLINE_FUNCTION T lowest();
template <>
KOKKOS_INLINE_FUNCTION float lowest<float>() {
  return -3.402823466e+38f;
}
template <>
KOKKOS_INLINE_FUNCTION double lowest<double>() {
  return -1.7976931348623157e+308;
}

}  // namespace kmoe::math

namespace kmoe {

// Before Kokkos::initialize, for a process that is one of several MPI ranks: one device per rank.
// Kokkos 4 maps the node-local rank to a device by default (map_device_id_by = mpi_rank);
// Kokkos 3.4 does so only when told how many devices to spread over (KOKKOS_NUM_DEVICES), and
// otherwise puts every rank on device 0. An explicit KOKKOS_NUM_DEVICES or KOKKOS_DEVICE_ID wins.
inline void spread_ranks_over_devices() {
#if defined(KOKKOS_ENABLE_CUDA) && KOKKOS_VERSION < 40000
  if (std::getenv("KOKKOS_NUM_DEVICES") == nullptr && std::getenv("KOKKOS_DEVICE_ID") == nullptr) {
    ::setenv("KOKKOS_NUM_DEVICES", std::to_string(Kokkos::Cuda::detect_device_count()).c_str(), 0);
  }
#endif
}

}  // namespace kmoe
