// Runs a study's cells on this machine: prepares each distinct data set once, then runs the
// cells that are not complete or failed as kmoe-train processes, `jobs` at a time, each with
// its share of the cores and a passive OpenMP wait policy (spinning threads of two runs on
// shared cores cost most of the throughput). Every cell is started with --resume, so a
// stopped or killed cell continues from its checkpoint and a new one starts at step 0.
// SIGTERM / SIGINT stop every running cell with a checkpoint; the same command continues.
#pragma once

#include "study/study_deck.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace kmoe {

struct StudyRunOptions {
  int jobs = 1;
  std::string kmoe_train;  // path of the kmoe-train binary
};

// Returns 0 when every cell is complete, 75 when stopped by a signal, 1 when a cell failed.
int run_study(const StudyDeck& study, const std::vector<StudyCell>& cells, const StudyRunOptions& options,
              std::ostream& log);

// Writes each cell's resolved deck to <output_dir>/decks/<cell>.toml and the manifest
// (<output_dir>/manifest.toml: every cell's deck, varied values and state).
void write_study_files(const StudyDeck& study, const std::vector<StudyCell>& cells);

}  // namespace kmoe
