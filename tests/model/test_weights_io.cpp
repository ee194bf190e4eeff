// Weights interchange round trip and errors.
#include <gtest/gtest.h>

#include <cstdio>

#include "core/error.hpp"
#include "gradient_check.hpp"
#include "model/weights_io.hpp"
#include "tiny_model.hpp"
#include "train/model_from_deck.hpp"

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
  const StepOptions eval = evaluation_step_options();
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

namespace {

TEST(WeightsIo, DeckKeyInitWeightsStartsFromTheFile) {
  const std::string path = ::testing::TempDir() + "kmoe_weights_deck.h5";
  const std::string deck_text =
      "[model]\nvocab_size = 11\nd_model = 8\nn_layers = 2\nn_heads = 2\nseq_len = 4\n"
      "[moe]\nnum_experts = 4\nexpert_d_ff = 6\n";
  const auto deck = parse_run_deck_string(deck_text, "a.toml");
  const auto source = make_model<float>(parse_run_deck_string(deck_text, "b.toml", {"run.seed=5"}));
  save_weights(source->params(), path);
  const auto fresh = make_model<float>(deck);
  EXPECT_NE(kmoe::testing::to_vector(fresh->params().values()), kmoe::testing::to_vector(source->params().values()));
  const auto loaded =
      make_model<float>(parse_run_deck_string(deck_text, "c.toml", {"model.init_weights=\"" + path + "\""}));
  EXPECT_EQ(kmoe::testing::to_vector(loaded->params().values()), kmoe::testing::to_vector(source->params().values()));
  try {
    make_model<float>(parse_run_deck_string(deck_text, "d.toml", {"model.init_weights=\"/missing.h5\""}));
    FAIL() << "missing weights file accepted";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("model.init_weights"), std::string::npos) << err.what();
  }
  std::remove(path.c_str());
}

}  // namespace
