// Weights interchange round trip and errors.
#include "core/error.hpp"
#include "gradient_check.hpp"
#include "model/weights_io.hpp"
#include "tiny_model.hpp"

#include <gtest/gtest.h>

#include <cstdio>

using namespace kmoe;

namespace {

TEST(WeightsIo, RoundTripRestoresEveryTensorAndTheLoss) {
  const auto c = kmoe::testing::tiny_config();
  const std::string path = ::testing::TempDir() + "kmoe_weights_roundtrip.h5";
  MoeTransformer<float> a(c, 1), b(c, 2);
  save_weights(a.params(), path);
  EXPECT_NE(kmoe::testing::to_vector(a.params().values()), kmoe::testing::to_vector(b.params().values()));
  load_weights(b.params(), path);
  EXPECT_EQ(kmoe::testing::to_vector(a.params().values()), kmoe::testing::to_vector(b.params().values()));
  StepOptions eval;
  eval.training = false;
  const auto batch = kmoe::testing::tiny_batch(c);
  EXPECT_EQ(a.forward(batch, eval).total_loss, b.forward(batch, eval).total_loss);
  std::remove(path.c_str());
}

TEST(WeightsIo, ShapeMismatchNamesTheTensor) {
  auto c = kmoe::testing::tiny_config();
  const std::string path = ::testing::TempDir() + "kmoe_weights_mismatch.h5";
  MoeTransformer<float> a(c, 1);
  save_weights(a.params(), path);
  c.expert_d_ff = 10;
  MoeTransformer<float> b(c, 1);
  try {
    load_weights(b.params(), path);
    FAIL() << "mismatch accepted";
  } catch (const Error& err) {
    const std::string msg = err.what();
    EXPECT_NE(msg.find("blocks.0.experts.0.w1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[6, 8]"), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
  }
  std::remove(path.c_str());
}

}  // namespace
