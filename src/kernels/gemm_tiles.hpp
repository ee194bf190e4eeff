// How a host matrix product is cut into tiles, each one single-threaded BLAS call on kmoe's
// threads. The tiles depend on the product's shape only — never on the thread count — so every
// output element is computed the same way on 1, 2 or 64 threads and on the Serial backend.
#pragma once

namespace kmoe::kernels {

// Tile extents of an m×n output (the last tile of a row or column may be smaller).
struct GemmTiles {
  int rows, cols;
  int row_tiles(int m) const { return (m + rows - 1) / rows; }
  int col_tiles(int n) const { return (n + cols - 1) / cols; }
};

// `entries` equal products run side by side (a batch): fewer tiles each.
GemmTiles gemm_tiles(int m, int n, int k, int entries = 1);

// Block side of an n×n symmetric product (inner dimension k) formed as lower-triangle tiles.
int gram_block(int n, int k);

// Row block of a group of products of different row counts (the experts of a layer).
int group_row_block(long total_rows);

}  // namespace kmoe::kernels
