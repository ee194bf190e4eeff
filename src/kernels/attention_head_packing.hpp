// Moves heads between the token layout [b·T + t, h·hd + d] and the packed per-head layout
// [(b·H + h)·T + t, d] that the attention GEMMs work on, and holds the group loop helpers.
#pragma once

#include "kernels/causal_attention.hpp"

namespace kmoe::kernels {

template <class T>
void pack_heads(const AttentionShape& shape, const View2<T>& tokens_layout, const View2<T>& packed);
template <class T>
void unpack_heads(const AttentionShape& shape, const View2<T>& packed, const View2<T>& tokens_layout);

// Attention-probability dropout draws four masks per Philox block: row r, column j uses
// block r·blocks + j/4, word j mod 4.
KOKKOS_INLINE_FUNCTION int dropout_blocks_per_row(int seq_len) { return (seq_len + 3) / 4; }

// The causal row passes work on groups of DropoutMask::kWords (32) columns up to the diagonal:
// the mask words of eight Philox blocks each, and a fixed trip count when the group is whole
// (for_chunk).
constexpr int kColumnGroup = DropoutMask::kWords;

KOKKOS_INLINE_FUNCTION int column_groups(int diagonal) { return diagonal / kColumnGroup + 1; }
// Columns of group `group` on or below the diagonal.
KOKKOS_INLINE_FUNCTION int group_columns(int diagonal, int group) {
  const int rest = diagonal + 1 - kColumnGroup * group;
  return rest < kColumnGroup ? rest : kColumnGroup;
}

// Row r of a group of score blocks starting at packed head `first_head`: query position i of
// packed head bh = b·H + h. The forward and the backward locate lse and the dropout mask
// through this one mapping.
struct ScoreRow {
  int i, bh;
  KOKKOS_INLINE_FUNCTION ScoreRow(int r, int first_head, int seq_len) : i(r % seq_len), bh(first_head + r / seq_len) {}
  KOKKOS_INLINE_FUNCTION int token(int seq_len, int heads) const { return (bh / heads) * seq_len + i; }
  KOKKOS_INLINE_FUNCTION int head(int heads) const { return bh % heads; }
  KOKKOS_INLINE_FUNCTION uint64_t first_dropout_block(int seq_len) const {
    return (uint64_t(bh) * seq_len + i) * dropout_blocks_per_row(seq_len);
  }
  // The row's first word of AttentionDropout::kept.
  KOKKOS_INLINE_FUNCTION size_t first_kept_word(int seq_len) const {
    return (size_t(bh) * seq_len + i) * column_groups(seq_len - 1);
  }
};

}  // namespace kmoe::kernels
