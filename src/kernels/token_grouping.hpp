// Stable counting sort: groups item indices by an integer key (token id, expert id) so that
// each key's items are contiguous and in increasing index order. Parallel and deterministic on
// every backend: the items are cut into chunks, each chunk counts its keys, one scan over
// (key, chunk) gives every chunk its first slot per key, and each chunk places its items in
// index order. Used for expert dispatch and the embedding backward.
#pragma once

#include "core/views.hpp"

namespace kmoe::kernels {

// Per-chunk key counts, kept between calls so that a training step allocates nothing.
struct KeyGroupingWorkspace {
  View2<int> chunk_counts;  // [chunks, keys]
  // The chunks used for `items` items of `keys` keys (the buffer grows, never shrinks).
  int ensure(int items, int keys);
};

// keys[i] in [0, num_keys). offsets has num_keys + 1 entries; items of key k are
// order[offsets[k] .. offsets[k+1]). A negative key is skipped (not grouped).
void group_by_key(const View1<int>& keys, int num_keys, const View1<int>& offsets, const View1<int>& order,
                  KeyGroupingWorkspace& workspace);
// The same with a workspace of its own (tests, one-off uses).
void group_by_key(const View1<int>& keys, int num_keys, const View1<int>& offsets, const View1<int>& order);

}  // namespace kmoe::kernels
