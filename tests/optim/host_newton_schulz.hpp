// Newton–Schulz written out on the host in double, the reference its tests and Muon's compare
// against (row-major matrices).
#pragma once

#include <cmath>
#include <vector>

namespace kmoe::testing {

using Matrix = std::vector<double>;  // row-major

inline Matrix multiply(const Matrix& a, const Matrix& b, int n, int k, int m, bool transpose_b = false) {
  Matrix c(size_t(n) * m, 0.0);
  for (int i = 0; i < n; ++i)
    for (int p = 0; p < k; ++p) {
      const double aip = a[size_t(i) * k + p];
      if (transpose_b) {
        for (int j = 0; j < m; ++j) c[size_t(i) * m + j] += aip * b[size_t(j) * k + p];
      } else {
        for (int j = 0; j < m; ++j) c[size_t(i) * m + j] += aip * b[size_t(p) * m + j];
      }
    }
  return c;
}

inline Matrix transpose(const Matrix& a, int rows, int cols) {
  Matrix t(a.size());
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) t[size_t(j) * rows + i] = a[size_t(i) * cols + j];
  return t;
}

// Plain double-precision quintic Newton–Schulz, written from the definition (wide form).
inline Matrix host_newton_schulz(Matrix x, int rows, int cols, int steps) {
  const bool tall = rows > cols;
  if (tall) {
    x = transpose(x, rows, cols);
    std::swap(rows, cols);
  }
  double norm = 0;
  for (double v : x) norm += v * v;
  norm = std::sqrt(norm) + 1e-7;
  for (double& v : x) v /= norm;
  for (int s = 0; s < steps; ++s) {
    const Matrix a = multiply(x, x, rows, cols, rows, true);  // X Xᵀ
    const Matrix aa = multiply(a, a, rows, rows, rows);
    Matrix b(a.size());
    for (size_t i = 0; i < b.size(); ++i) b[i] = -4.7750 * a[i] + 2.0315 * aa[i];
    const Matrix bx = multiply(b, x, rows, rows, cols);
    for (size_t i = 0; i < x.size(); ++i) x[i] = 3.4445 * x[i] + bx[i];
  }
  return tall ? transpose(x, rows, cols) : x;
}

// Eigenvalues of a symmetric matrix by cyclic Jacobi rotations.
}  // namespace kmoe::testing
