// Checkpoint files: round trip, corruption detection, and kill -9 in the middle of writes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "core/error.hpp"
#include "train/checkpoint.hpp"

using namespace kmoe;

namespace {

CheckpointData sample(int64_t update, size_t size) {
  CheckpointData d;
  d.deck_toml = "[run]\nname = \"ckpt\"\n";
  d.update = update;
  d.micro_batches = 4 * update;
  d.tokens_seen = 1000 * update;
  d.best_val_ppl = 12.5;
  d.train_seconds = 3.25;
  const std::vector<std::vector<float>*> tensors = {&d.parameters, &d.adamw_m, &d.adamw_v, &d.muon_momentum};
  for (size_t t = 0; t < tensors.size(); ++t) {
    tensors[t]->resize(size);
    for (size_t i = 0; i < size; ++i) (*tensors[t])[i] = float(update) + float(t) * 0.5f + float(i) * 1e-6f;
  }
  d.routing_bias = {0.25f, -0.5f};
  return d;
}

TEST(Checkpoint, RoundTrip) {
  const std::string path = ::testing::TempDir() + "kmoe_ckpt_roundtrip.ckpt";
  write_checkpoint(path, sample(7, 1000));
  const auto d = read_checkpoint(path);
  EXPECT_EQ(d.deck_toml, sample(7, 1000).deck_toml);
  EXPECT_EQ(d.update, 7);
  EXPECT_EQ(d.micro_batches, 28);
  EXPECT_EQ(d.tokens_seen, 7000);
  EXPECT_EQ(d.best_val_ppl, 12.5);
  const auto expected = sample(7, 1000);
  EXPECT_EQ(d.parameters, expected.parameters);
  EXPECT_EQ(d.adamw_m, expected.adamw_m);
  EXPECT_EQ(d.adamw_v, expected.adamw_v);
  EXPECT_EQ(d.muon_momentum, expected.muon_momentum);
  EXPECT_EQ(d.routing_bias, expected.routing_bias);
  std::remove(path.c_str());
}

TEST(Checkpoint, CorruptionAndTruncationAreDetected) {
  const std::string path = ::testing::TempDir() + "kmoe_ckpt_corrupt.ckpt";
  write_checkpoint(path, sample(3, 100));
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x01;
  std::ofstream(path, std::ios::binary) << flipped;
  try {
    read_checkpoint(path);
    FAIL();
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("checksum"), std::string::npos) << err.what();
  }
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() - 10);
  EXPECT_THROW(read_checkpoint(path), Error);
  std::remove(path.c_str());
}

TEST(Checkpoint, KillNineDuringWritesLeavesALoadableCheckpoint) {
  const std::string path = ::testing::TempDir() + "kmoe_ckpt_kill.ckpt";
  write_checkpoint(path, sample(0, 1 << 20));  // 16 MiB of tensors: writes take a while
  for (int attempt = 0; attempt < 6; ++attempt) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (int64_t update = 1;; ++update) write_checkpoint(path, sample(update, 1 << 20));
    }
    usleep(useconds_t(30000 + 23000 * attempt));  // land at different points of a write
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    const auto d = read_checkpoint(path);  // the last complete checkpoint, never a torn one
    ASSERT_EQ(d.muon_momentum.size(), size_t(1) << 20);
    EXPECT_EQ(d.muon_momentum[12345], float(d.update) + 1.5f + 12345 * 1e-6f);
  }
  std::remove(path.c_str());
  std::remove((path + ".tmp").c_str());
}

}  // namespace
