// The syrk-based Gram matrix against the GEMM product.
#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "kernels/dense_gemm.hpp"
#include "kernels/symmetric_gram.hpp"

using namespace kmoe;
using namespace kmoe::testing;

namespace {

TEST(SymmetricGram, MatchesTheGemmProduct) {
  View2<double> x("x", 5, 9);
  fill_normal(x, 12);
  for (const bool transposed : {false, true}) {
    const int n = transposed ? 9 : 5;
    View2<double> gram("gram", n, n), reference("reference", n, n);
    Kokkos::deep_copy(gram, 1e9);  // every element must be written
    kernels::symmetric_gram(x, transposed, gram);
    kernels::gemm<double>(transposed ? "T" : "N", transposed ? "N" : "T", 1.0, x, x, 0.0, reference);
    const auto g = to_vector(gram), r = to_vector(reference);
    for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], r[i], 1e-13) << (transposed ? "XᵀX " : "XXᵀ ") << i;
  }
}

}  // namespace
