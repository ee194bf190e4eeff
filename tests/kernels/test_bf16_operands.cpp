// train.precision = "bf16": rounding, the products' operands, and what stays fp32.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "kernels/batched_gemm.hpp"
#include "kernels/dense_gemm.hpp"
#include "kernels/matmul_precision.hpp"
#include "tiny_model.hpp"

using namespace kmoe;
using kernels::Matmul;

namespace {

TEST(Bf16Rounding, NearestWithTiesToEven) {
  using kernels::round_to_bf16;
  EXPECT_EQ(round_to_bf16(1.0f), 1.0f);
  EXPECT_EQ(round_to_bf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);                             // halfway, 1.0 is even
  EXPECT_EQ(round_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));  // halfway, up to even
  EXPECT_EQ(round_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 1.0f + std::ldexp(1.0f, -7));
  EXPECT_EQ(round_to_bf16(-3.0f), -3.0f);
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::max()), std::numeric_limits<float>::infinity());
  EXPECT_EQ(round_to_bf16(-std::numeric_limits<float>::infinity()), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(round_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(kernels::bf16_bits(1.0f), 0x3f80);
}

View2<float> filled(const std::string& name, int rows, int cols, int salt) {
  View2<float> v(name, rows, cols);
  Kokkos::parallel_for(
      "fill", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {rows, cols}),
      KOKKOS_LAMBDA(int i, int j) { v(i, j) = float(std::sin(0.37 * (i * cols + j) + salt) * 1.3); });
  return v;
}

View2<float> rounded(const View2<float>& x) {
  View2<float> r("rounded", x.extent(0), x.extent(1));
  Kokkos::parallel_for(
      "round", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {int(x.extent(0)), int(x.extent(1))}),
      KOKKOS_LAMBDA(int i, int j) { r(i, j) = kernels::round_to_bf16(x(i, j)); });
  return r;
}

double max_relative_difference(const View2<float>& a, const View2<float>& b) {
  auto ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a);
  auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b);
  double worst = 0, scale = 0;
  for (size_t i = 0; i < ha.extent(0); ++i) {
    for (size_t j = 0; j < ha.extent(1); ++j) {
      worst = std::max(worst, std::fabs(double(ha(i, j)) - double(hb(i, j))));
      scale = std::max(scale, std::fabs(double(hb(i, j))));
    }
  }
  return worst / scale;
}

// A bf16 product is the fp32 product of the rounded operands (exactly on the host; cuBLAS may sum
// in another order), and differs from the fp32 product of the operands as given.
TEST(Bf16Products, AreFp32ProductsOfRoundedOperands) {
  const auto x = filled("x", 37, 29, 1), w = filled("w", 23, 29, 2);
  View2<float> y16("y16", 37, 23), y_rounded("y_rounded", 37, 23), y32("y32", 37, 23);
  kernels::linear_forward(x, w, y16, 0.0f, Matmul::bf16);
  kernels::linear_forward(rounded(x), rounded(w), y_rounded);
  kernels::linear_forward(x, w, y32);
  EXPECT_LE(max_relative_difference(y16, y_rounded), 1e-6);
  EXPECT_GT(max_relative_difference(y16, y32), 1e-4);  // the setting takes effect
}

TEST(Bf16Products, GroupedProductsRoundEveryOperand) {
  const int in = 16, out = 12;
  const auto a = filled("a", 30, in, 3), w = filled("w", 3 * out, in, 4);
  View2<float> c16("c16", 30, out), c_rounded("c_rounded", 30, out);
  const auto ar = rounded(a), wr = rounded(w);
  const int rows[3] = {7, 0, 23};
  std::vector<kernels::GemmProblem<float>> problems, problems_rounded;
  for (int e = 0, begin = 0; e < 3; begin += rows[e++]) {
    problems.push_back({rows[e], out, in, a.data() + begin * in, w.data() + e * out * in, c16.data() + begin * out});
    problems_rounded.push_back(
        {rows[e], out, in, ar.data() + begin * in, wr.data() + e * out * in, c_rounded.data() + begin * out});
  }
  kernels::grouped_gemm<float>(false, true, 1.0f, in, in, 0.0f, out, problems, Matmul::bf16);
  kernels::grouped_gemm<float>(false, true, 1.0f, in, in, 0.0f, out, problems_rounded);
  EXPECT_LE(max_relative_difference(c16, c_rounded), 1e-6);
}

// With the first block's attention output projection at zero, the FFN's input is the same in
// both precisions; the router's logits, softmax and losses are fp32 in both, so the first
// layer's router statistics agree exactly while the cross-entropy (bf16 products) does not.
TEST(Bf16Model, RouterStaysFp32) {
  auto config = kmoe::testing::tiny_config();
  config.d_model = 16;
  config.n_heads = 2;
  config.vocab_size = 40;
  ForwardResult result[2];
  for (int bf16 = 0; bf16 < 2; ++bf16) {
    config.matmul = bf16 ? Matmul::bf16 : Matmul::fp32;
    MoeTransformer<float> model(config, 3);
    Kokkos::deep_copy(model.params().matrix(model.params().index_of("blocks.0.wo")), 0.0f);
    result[bf16] = model.forward(kmoe::testing::tiny_batch(config, 3), kmoe::testing::default_training_options());
  }
  const auto &r32 = result[0].layers[0], &r16 = result[1].layers[0];
  EXPECT_EQ(r16.z_loss, r32.z_loss);
  EXPECT_EQ(r16.load_balancing, r32.load_balancing);
  EXPECT_EQ(r16.mean_prob, r32.mean_prob);
  EXPECT_EQ(r16.expert_tokens, r32.expert_tokens);
  EXPECT_NE(result[1].cross_entropy, result[0].cross_entropy);
  EXPECT_NEAR(result[1].cross_entropy, result[0].cross_entropy, 0.02 * result[0].cross_entropy);
}

}  // namespace
