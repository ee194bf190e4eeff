// The dropout mask's integer threshold keeps the words the uniform would; the masks the kernels
// draw equal their definition, one element at a time from scalar
// Philox calls: element e of an element-wise mask keeps word e mod 4 of block e / 4; attention
// row i of packed head bh keeps column j by word j mod 4 of block (bh·T + i)·⌈T/4⌉ + j/4, and
// the attention forward records it bit by bit for the backward. The
// chunked, side-by-side draws must not change which word an element reads (a consistent but
// different mapping would still pass the gradient checks).
#include <gtest/gtest.h>

#include "core/counter_rng.hpp"
#include "kernels/attention_head_packing.hpp"
#include "kernels/causal_attention.hpp"
#include "kernels/dropout_mask.hpp"
#include "kernels/elementwise.hpp"

using namespace kmoe;

namespace {

constexpr double kP = 0.3;
constexpr uint64_t kSeed = 0x5eed, kStream = 991;

bool kept_by_definition(uint64_t block, int word) {
  return rng::word_to_unit(rng::philox4x32(kSeed, kStream, block).v[word]) >= kP;
}

TEST(DropoutMask, IntegerThresholdKeepsTheSameWordsAsTheUniform) {
  for (double p : {1e-9, 0.1, 0.25, 0.5, 1.0 / 3.0, 0.9, 0.999999999}) {
    const kernels::DropoutMask mask{p, 1, 2};
    const uint64_t t = mask.keep_threshold;
    for (int64_t w = int64_t(t) - 3; w <= int64_t(t) + 3; ++w) {
      if (w < 0 || w > int64_t(UINT32_MAX)) continue;
      EXPECT_EQ(mask.kept(uint32_t(w)), rng::word_to_unit(uint32_t(w)) >= p) << "p " << p << " word " << w;
    }
  }
  EXPECT_EQ(kernels::DropoutMask(0.5, 0, 0).keep_threshold, 2147483648u);  // (2³¹ + ½)/2³² ≥ ½ > (2³¹ − ½)/2³²
}

}  // namespace

TEST(DropoutMaskDefinition, ElementWiseMaskKeepsWordEMod4OfBlockEOver4) {
  const int rows = 7, cols = 143;  // 1001 elements: whole chunks and a partial one
  View2<float> x("x", rows, cols);
  Kokkos::deep_copy(x, 1.0f);
  View1<uint8_t> kept("kept", kernels::dropout_bit_bytes(size_t(rows) * cols));
  kernels::dropout_forward(x, kP, kSeed, kStream, kept);
  const auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  const auto bits = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), kept);
  const float scale = float(1.0 / (1.0 - kP));
  int dropped = 0;
  for (int e = 0; e < rows * cols; ++e) {
    const bool keep = kept_by_definition(e / 4, e % 4);
    dropped += keep ? 0 : 1;
    EXPECT_EQ(values(e / cols, e % cols), keep ? scale : 0.0f) << "element " << e;
    EXPECT_EQ(bool(bits(e / 8) >> (e % 8) & 1), keep) << "bit " << e;
  }
  EXPECT_GT(dropped, 200);  // about 30 % of 1001
  EXPECT_LT(dropped, 400);
}

// With q = k = 0 every causal row is uniform, P(i, j) = 1/(i + 1), and with V's rows the unit
// vectors of their positions, out(i, j) is row i's dropout multiplier for column j over (i + 1).
TEST(DropoutMaskDefinition, AttentionMaskKeepsOneBlockRowPerQuery) {
  const kernels::AttentionShape s{2, 40, 2, 40};  // rows of 40: a whole group of 32 and a part
  const int tokens = s.batch * s.seq_len, width = s.heads * s.head_dim;
  View2<float> q("q", tokens, width), k("k", tokens, width), v("v", tokens, width), out("out", tokens, width);
  View2<float> lse("lse", tokens, s.heads);
  auto v_host = Kokkos::create_mirror_view(v);
  Kokkos::deep_copy(v_host, 0.0f);
  for (int t = 0; t < tokens; ++t) {
    for (int h = 0; h < s.heads; ++h) v_host(t, h * s.head_dim + t % s.seq_len) = 1.0f;
  }
  Kokkos::deep_copy(v, v_host);
  kernels::AttentionWorkspace<float> workspace;
  const View1<uint32_t> kept("kept", kernels::attention_kept_words(s));
  kernels::causal_attention_forward(s, q, k, v, kernels::AttentionDropout{kP, kSeed, kStream, kept}, out, lse,
                                    workspace);
  const auto o = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  const auto bits = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), kept);
  const int groups_per_row = (s.seq_len + kernels::kColumnGroup - 1) / kernels::kColumnGroup;
  const double scale = 1.0 / (1.0 - kP);
  const int blocks_per_row = kernels::dropout_blocks_per_row(s.seq_len);
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      const int bh = b * s.heads + h;
      for (int i = 0; i < s.seq_len; ++i) {
        for (int j = 0; j < s.seq_len; ++j) {
          const uint64_t block = (uint64_t(bh) * s.seq_len + i) * blocks_per_row + j / 4;
          const bool keep = kept_by_definition(block, j % 4);
          const double expected = j <= i && keep ? scale / (i + 1) : 0.0;
          EXPECT_NEAR(o(b * s.seq_len + i, h * s.head_dim + j), expected, 1e-6)
              << "batch " << b << " head " << h << " row " << i << " column " << j;
          if (j <= i) {  // the record the backward reads
            const uint32_t word = bits((size_t(bh) * s.seq_len + i) * groups_per_row + j / kernels::kColumnGroup);
            EXPECT_EQ(bool(word >> (j % kernels::kColumnGroup) & 1), keep)
                << "recorded bit, row " << i << " column " << j;
          }
        }
      }
    }
  }
}
