// A study cell's state and headline numbers, read from its run record (the final .h5, or the
// .partial of a run in progress or killed) and its lock: pending, running, stopped, complete
// or failed.
#pragma once

#include "study/study_deck.hpp"

#include <string>

namespace kmoe {

struct CellStatus {
  std::string state = "pending";
  int64_t step = 0, max_steps = 0;
  double last_val_ppl = 0, best_val_ppl = 0, expert_cv = 0, tokens_per_s = 0;  // 0 = not yet known
  std::string error;
};

CellStatus read_cell_status(const StudyCell& cell);

}  // namespace kmoe
