// The probes' input and output: views read from stdin, printed as "name v1 v2 …" lines.
#pragma once

#include <cstdio>
#include <iostream>

#include "core/views.hpp"

namespace kmoe::testing {

template <class V>
void read_into(const V& view) {
  auto host = Kokkos::create_mirror_view(view);
  for (size_t i = 0; i < view.span(); ++i) std::cin >> host.data()[i];
  Kokkos::deep_copy(view, host);
}

template <class V>
void print(const char* name, const V& view) {
  const auto host = Kokkos::create_mirror_view_and_copy(HostSpace(), view);
  std::printf("%s", name);
  for (size_t i = 0; i < host.span(); ++i) std::printf(" %.17g", double(host.data()[i]));
  std::printf("\n");
}

}  // namespace kmoe::testing
