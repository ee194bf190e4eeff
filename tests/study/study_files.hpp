// Study decks written to a temporary folder for the study tests, a base run deck beside them.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace kmoe::testing {

inline const char* kBase = "[run]\nname = \"base\"\n[model]\nd_model = 32\nn_heads = 4\n[data]\ncorpus = \"c.txt\"\n";

// A study with two seeds and a two-level grid, to which tests add stages.
inline const std::string kStaged =
    "[study]\nname = \"screen\"\nbase = \"decks/base.toml\"\noutput_dir = \"out\"\nseeds = [1, 2]\n"
    "[grid.moe]\nload_balancing_weight = [0.01, 0.0]\n[set.train]\nmax_steps = 50\n";

inline std::string write_study(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / ("kmoe_study_" + name);
  std::filesystem::create_directories(dir / "decks");
  std::ofstream(dir / "decks" / "base.toml") << kBase;
  const auto path = dir / "study.toml";
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace kmoe::testing
