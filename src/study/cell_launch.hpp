// What a Slurm array task runs: one cell's kmoe-train for one stage, after its gate.
#pragma once

#include <string>
#include <vector>

#include "study/study_deck.hpp"

namespace kmoe {

// The program `name` in the directory of the running one (kmoe-train beside kmoe-study).
std::string sibling_program(const char* name);

// Decides the stage's gate (or reads it), then execs kmoe-train for the cell: exits as it does.
// Returns 0 when the cell has nothing to do and kExitStopped when it runs elsewhere.
int run_one_cell(const StudyDeck& study, const std::vector<StudyCell>& cells, long index, long stage);

}  // namespace kmoe
