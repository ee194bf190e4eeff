// Runs a study's cells on this machine: prepares each distinct data set once, then, stage by
// stage, runs the cells that are not complete, failed or pruned as kmoe-train processes,
// `jobs` at a time, each with its share of the cores (and, when several share them, a passive
// OpenMP wait policy: spinning threads of two runs on shared cores cost most of the throughput). Every cell is
// started with --resume (and --until-step at a stage's end), so a stopped or killed cell
// continues from its checkpoint and a new one starts at step 0. Between stages the gate
// decides which conditions go on. SIGTERM / SIGINT stop every running cell with a
// checkpoint; the same command continues.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "study/cell_status.hpp"
#include "study/study_deck.hpp"

namespace kmoe {

struct StudyRunOptions {
  int jobs = 1;
  int ranks_per_cell = 1;      // each cell's kmoe-train under `mpirun -np N`
  std::vector<int> gpus;       // devices: a cell on each at a time (CUDA_VISIBLE_DEVICES), instead of jobs
  std::string kmoe_train;      // path of the kmoe-train binary
  bool rerun_changed = false;  // retrain cells whose deck changed since they started (else refuse)
};

// Refuses a rank count that some cell's train.grad_accum cannot split (train/gradient_sum),
// naming the cell and the counts allowed, before any cell starts.
void check_ranks_per_cell(const std::vector<StudyCell>& cells, int ranks, const std::string& where);

// Cells that have started (a record or checkpoint) under a deck that differs from the one the
// study now resolves for them, each with the keys that changed ("" when none differ). Location
// keys and what a resume may change are not differences.
std::vector<std::pair<const StudyCell*, std::string>> changed_cells(const StudyDeck& study,
                                                                    const std::vector<StudyCell>& cells);
// The refusal naming each changed cell and key, and what to do.
std::string changed_cells_message(const StudyDeck& study,
                                  const std::vector<std::pair<const StudyCell*, std::string>>& changed);

// Returns 0 when every cell is done (complete, or stopped at the last stage's end, or pruned),
// 75 when stopped by a signal, 1 when a cell failed.
int run_study(const StudyDeck& study, const std::vector<StudyCell>& cells, const StudyRunOptions& options,
              std::ostream& log);

// Writes the cell decks and the manifest, and prepares each distinct data set once.
void prepare_study(const StudyDeck& study, const std::vector<StudyCell>& cells, std::ostream& log);

// The stages to run: the deck's, or one stage to each cell's max_steps.
std::vector<Stage> stages_of(const StudyDeck& study);

// What a cell does in stage `stage_index`: kmoe-train arguments after the binary, or none
// with the reason (complete, failed, pruned, or already at the stage's end). The gate into
// that stage must have been decided first (stage_gate).
struct CellPlan {
  std::vector<std::string> args;
  std::string why_not;
  int64_t steps_to_go = 0;  // updates left to the stage's end
  int running_pid = 0;      // a kmoe-train already running the cell (another runner's, an orphan's)
};
CellPlan plan_cell(const StudyDeck& study, const StudyCell& cell, size_t stage_index);

// Writes each cell's resolved deck to <output_dir>/decks/<cell>.toml and the manifest
// (<output_dir>/manifest.toml: every cell's deck, varied values and state, and every gate
// decision with its reason and numbers).
void write_study_files(const StudyDeck& study, const std::vector<StudyCell>& cells);

std::string cell_deck_path(const StudyDeck& study, const StudyCell& cell);

// A cell's state for the study: its run's state (`status`, from read_cell_status), or pruned
// when a gate stopped its condition.
RunState study_cell_state(const StudyDeck& study, const StudyCell& cell, const CellStatus& status);

}  // namespace kmoe
