// Values the schema used to allow but the code cannot run (issue: nothing lost), and a fuzz
// test: a few hundred generated malformed decks and --set strings through the parser, none of
// which may crash, hang or be silently accepted.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/counter_rng.hpp"
#include "core/error.hpp"
#include "deck_error.hpp"
#include "io/deck_schema.hpp"
#include "io/run_deck.hpp"

using kmoe::parse_run_deck_string;

namespace {

using kmoe::testing::deck_error;

void expect_rejected(const std::string& text, const std::string& key) {
  const std::string message = deck_error(text);
  ASSERT_FALSE(message.empty()) << "accepted:\n" << text;
  EXPECT_NE(message.find(key), std::string::npos) << message;
  EXPECT_NE(message.find("allowed"), std::string::npos) << message;
}

TEST(DeckRanges, SizesTheKernelsCannotIndexAreRejected) {
  expect_rejected("[model]\nvocab_size = 4294967295\n", "model.vocab_size");
  expect_rejected("[model]\nvocab_size = 2147483648\n", "model.vocab_size");
  expect_rejected("[moe]\nnum_experts = 4096\ntop_k = 4096\n", "moe.num_experts");
  expect_rejected("[moe]\nnum_experts = 1024\ntop_k = 1024\n", "moe.top_k");
}

TEST(DeckRanges, NonFiniteValuesAreRejectedWithTheKey) {
  for (const char* key : {"model.norm_eps", "model.rope_base", "moe.capacity_factor", "optim.muon_lr", "model.init_std",
                          "moe.noise_std", "optim.adamw_lr"}) {
    const std::string k(key), section = k.substr(0, k.find('.')), name = k.substr(k.find('.') + 1);
    for (const char* value : {"inf", "-inf", "nan"}) {
      expect_rejected("[" + section + "]\n" + name + " = " + value + "\n", key);
    }
  }
}

TEST(DeckRanges, AbsurdValuesAreRejected) {
  expect_rejected("[model]\ninit_std = 1e308\n", "model.init_std");
  expect_rejected("[model]\nnorm_eps = 2.0\n", "model.norm_eps");
  expect_rejected("[optim]\nmuon_lr = 1e6\n", "optim.muon_lr");
}

TEST(DeckNames, RunNamesThatAreNotFileNamesAreRejected) {
  for (const char* name : {".", "..", "a/b", "-x", "a\\nb", "a b", ""}) {
    expect_rejected(std::string("[run]\nname = \"") + name + "\"\n", "run.name");
  }
  EXPECT_EQ(deck_error("[run]\nname = \"noise_std=0.5,load_balancing_weight=0,seed=43\"\n"), "");
}

TEST(DeckOverrides, LineBreaksCannotInjectKeys) {
  const std::string message = deck_error("", {"train.max_steps=5\n[moe]\nnoise_std = 0.9"});
  EXPECT_NE(message.find("line break"), std::string::npos) << message;
}

TEST(DeckFiles, EmptyFilesAndDirectoriesAreNotDecks) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "kmoe_deck_files";
  std::filesystem::create_directories(dir);
  const auto empty = dir / "empty.toml";
  std::ofstream(empty) << "\n  \n";
  for (const auto& path : {empty, dir}) {
    try {
      kmoe::load_run_deck(path.string());
      FAIL() << path << " was accepted";
    } catch (const kmoe::Error& err) {
      EXPECT_NE(std::string(err.what()).find(path.string()), std::string::npos) << err.what();
    }
  }
}

// A valid deck mutated at random: each mutant either parses to a deck that round-trips, or
// is rejected with a message naming the source ("bad.toml") or the --set string.
TEST(DeckFuzz, MalformedDecksAreRejectedOrRoundTrip) {
  const std::string base =
      "[run]\nname = \"fuzz\"\nseed = 3\n[model]\nd_model = 64\nn_heads = 4\nvocab_size = 512\n"
      "[moe]\nnum_experts = 4\ntop_k = 2\nnoise_std = 0.1\n[train]\nmax_steps = 10\n[data]\ncorpus = \"c.txt\"\n";
  const std::vector<std::string> fragments = {"=",
                                              "[",
                                              "]",
                                              "\"",
                                              "\n",
                                              "[[moe]]",
                                              "inf",
                                              "nan",
                                              "-1",
                                              "1e400",
                                              "0x10",
                                              "true",
                                              "[1, 2]",
                                              "{a = 1}",
                                              "9223372036854775808",
                                              "\t",
                                              "#",
                                              "'",
                                              "\\u0000",
                                              "[model]\nd_model = 65\n",
                                              "\xff\xfe",
                                              "moe.top_k = 9\n",
                                              "[train]\nmax_steps = 0\n",
                                              "[optim]\ndecay = \"cubic\"\n",
                                              "..",
                                              "[data]\ncorpus = 5\n",
                                              "name = \"x\"\n"};
  const std::vector<std::string> set_strings = {"moe.noise_std=inf",
                                                "model.d_model=",
                                                "=3",
                                                "moe=3",
                                                "moe.",
                                                ".x=1",
                                                "train.max_steps=1.5",
                                                "run.seed=-4",
                                                "model.vocab_size=99999999999",
                                                "optim.decay=cubic",
                                                "moe.top_k=[1]",
                                                "data.corpus={}",
                                                "run.name=../x"};
  int accepted = 0, rejected = 0;
  for (uint64_t trial = 0; trial < 400; ++trial) {
    std::string text = base;
    std::vector<std::string> overrides;
    const int edits = 1 + int(kmoe::rng::philox4x32(99, trial, 0).v[0] % 3);
    for (int e = 0; e < edits; ++e) {
      const uint32_t r1 = kmoe::rng::philox4x32(99, trial, 1 + e).v[0],
                     r2 = kmoe::rng::philox4x32(98, trial, 1 + e).v[0];
      const size_t at = r1 % (text.size() + 1);
      switch (r2 % 4) {
        case 0:
          text.insert(at, fragments[r2 / 4 % fragments.size()]);
          break;
        case 1:
          text.erase(at, 1 + r2 / 4 % 8);
          break;
        case 2:
          if (at < text.size()) text[at] = char(r2 >> 8);
          break;
        default:
          overrides.push_back(set_strings[r2 / 4 % set_strings.size()]);
      }
    }
    try {
      const auto deck = parse_run_deck_string(text, "bad.toml", overrides);
      ++accepted;
      const auto again = parse_run_deck_string(kmoe::to_toml(deck), "resolved.toml");
      EXPECT_EQ(kmoe::to_toml(again), kmoe::to_toml(deck)) << "trial " << trial;
    } catch (const kmoe::Error& err) {
      ++rejected;
      const std::string message = err.what();
      EXPECT_TRUE(message.find("bad.toml") != std::string::npos || message.find("--set") != std::string::npos)
          << "trial " << trial << ": " << message;
    }
  }
  EXPECT_GT(rejected, 100);  // the mutations bite
  EXPECT_GT(accepted, 0);    // and harmless ones pass (and round-trip)
}

}  // namespace
