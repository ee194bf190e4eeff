// Elements [begin, end) of a flat buffer.
#pragma once

#include <cstddef>

namespace kmoe {

struct ElementRange {
  size_t begin = 0, end = 0;
  size_t size() const { return end - begin; }
};

}  // namespace kmoe
