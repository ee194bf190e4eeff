// The same bits as another type (C++20's std::bit_cast), on the host and in CUDA device code.
#pragma once

#include <Kokkos_Core.hpp>
#include <cstring>

namespace kmoe {

template <class To, class From>
KOKKOS_INLINE_FUNCTION To bit_cast(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast between types of different sizes");
  To to;
  memcpy(&to, &from, sizeof to);
  return to;
}

}  // namespace kmoe
