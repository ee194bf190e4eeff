// The embedding's scatter-add backward by finite differences.
#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "kernels/embedding.hpp"
#include "kernels/token_grouping.hpp"

using namespace kmoe;
using namespace kmoe::kernels;
using namespace kmoe::testing;

namespace {

constexpr double kTolerance = 1e-6;

TEST(KernelGradients, EmbeddingScatterAdd) {
  const int vocab = 6, d = 4, n = 7;
  View1<int> tokens("tokens", n), offsets("offsets", vocab + 1), order("order", n);
  auto ht = Kokkos::create_mirror_view(tokens);
  const int ids[n] = {3, 1, 3, 0, 5, 3, 1};
  for (int i = 0; i < n; ++i) ht(i) = ids[i];
  Kokkos::deep_copy(tokens, ht);
  View2<double> table("table", vocab, d), out("out", n, d), dout("dout", n, d), dtable("dtable", vocab, d);
  fill_normal(table, 9);
  const auto loss = [&] {
    embedding_forward(tokens, table, 2.5, out);
    return weighted_sum(out);
  };
  weighted_sum_grad(dout);
  group_by_key(tokens, vocab, offsets, order);
  embedding_backward(offsets, order, dout, 2.5, dtable);
  EXPECT_LT(fd_relative_error(table, to_vector(dtable), loss), kTolerance);
}

}  // namespace
