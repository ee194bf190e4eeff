#include "kernels/gemm_tiles.hpp"

#include <algorithm>

namespace kmoe::kernels {

namespace {

// Enough tasks to keep 16 threads busy (and to balance 2 or 4 with a dynamic schedule), but no
// tile so small that packing its operands costs more than the thread gains.
constexpr long kTargetTasks = 16;
constexpr int kMinTileSide = 64;
constexpr long kMinTileMacs = 1L << 20;
constexpr int kTileQuantum = 32;  // a multiple of every x86 BLAS micro-kernel's rows and columns

int ceil_div(long a, long b) { return int((a + b - 1) / b); }
int round_up(int a, int quantum) { return ceil_div(a, quantum) * quantum; }

}  // namespace

GemmTiles gemm_tiles(int m, int n, int k, int entries) {
  GemmTiles t{std::max(m, 1), std::max(n, 1)};
  while (long(entries) * t.row_tiles(m) * t.col_tiles(n) < kTargetTasks) {
    // Halve the longer side: a square tile packs the fewest operand elements per product.
    int& side = t.rows >= t.cols ? t.rows : t.cols;
    const int other = t.rows >= t.cols ? t.cols : t.rows;
    const int half = round_up(ceil_div(side, 2), kTileQuantum);
    if (half >= side || half < kMinTileSide || long(half) * other * k < kMinTileMacs) break;
    side = half;
  }
  return t;
}

int gram_block(int n, int k) {
  // Four block rows: ten lower tiles, the diagonal ones half the work of the others.
  const int block = std::max(kMinTileSide, round_up(ceil_div(n, 4), kTileQuantum));
  return long(block) * block * k < kMinTileMacs ? std::max(n, 1) : block;
}

int group_row_block(long total_rows) {
  return std::max(256, round_up(ceil_div(total_rows, kTargetTasks), kTileQuantum));
}

}  // namespace kmoe::kernels
