// Stable counting sort: groups item indices by an integer key (token id, expert id) so that
// each key's items are contiguous and in increasing index order. Deterministic on every
// backend; used for expert dispatch and the embedding backward.
#pragma once

#include "core/views.hpp"

namespace kmoe::kernels {

// keys[i] in [0, num_keys). offsets has num_keys + 1 entries; items of key k are
// order[offsets[k] .. offsets[k+1]). A negative key is skipped (not grouped).
void group_by_key(const View1<int>& keys, int num_keys, const View1<int>& offsets,
                  const View1<int>& order);

}  // namespace kmoe::kernels
