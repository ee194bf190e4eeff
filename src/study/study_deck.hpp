// The study deck: a base run deck, a grid of values (Cartesian product of every list under
// [grid.*]), explicit [[cells]], replicate seeds and fixed [set.*] overrides, expanded into
// cells. Each cell is a fully resolved, validated run deck; a bad key or value is an error
// naming the study file, the cell and the key, before anything runs.
#pragma once

#include "io/run_deck.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kmoe {

struct StudyCell {
  std::string name;                                         // e.g. "noise_std=0.5,load_balancing_weight=0,seed=43"
  std::vector<std::pair<std::string, std::string>> varied;  // full key -> value (TOML text), seed last
  RunDeck deck;                                             // run.name = name, run.output_dir = <output_dir>/runs
};

struct StudyDeck {
  std::string source, name, base, output_dir;
  std::vector<int64_t> seeds;
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;  // full key -> values (TOML text)
  std::vector<std::string> fixed;                                      // "section.key=value" for every cell
  struct ExplicitCell {
    std::string name;
    std::vector<std::string> overrides;
  };
  std::vector<ExplicitCell> explicit_cells;
};

// Reads and checks the study file's own structure; `base` and `output_dir` are resolved
// relative to the study file.
StudyDeck load_study_deck(const std::string& path);

// Every cell, grid cells first (first grid key varying slowest), then explicit cells, each
// once per seed. Throws kmoe::Error naming the study file and the cell.
std::vector<StudyCell> expand_study(const StudyDeck& study);

}  // namespace kmoe
