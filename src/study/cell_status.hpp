// A study cell's state and headline numbers, read from its run record (the final .h5, or the
// .partial of a run in progress or killed) and its lock: pending, running, stopped, complete
// or failed (a study adds pruned, from its gates).
#pragma once

#include <optional>
#include <string>

#include "core/run_state.hpp"
#include "study/study_deck.hpp"

namespace kmoe {

struct CellStatus {
  RunState state = RunState::pending;
  int64_t step = 0, max_steps = 0;
  double last_val_ppl = 0, best_val_ppl = 0, expert_cv = 0, tokens_per_s = 0;  // 0 = not yet known
  std::string error;
  int pid = 0;  // the kmoe-train holding the cell's lock (state running), else 0
};

CellStatus read_cell_status(const StudyCell& cell);

struct CellValidation {
  int64_t step = 0;
  double val_loss = 0, expert_cv = 0;
};
// The cell's last evaluation at or before `step` (from its record or .partial), if any.
std::optional<CellValidation> validation_at(const StudyCell& cell, int64_t step);

}  // namespace kmoe
