// `kmoe-study plan` and `status` as text tables: one row per cell.
#pragma once

#include <ostream>
#include <vector>

#include "study/study_deck.hpp"

namespace kmoe {

// The cells with their steps, tokens, parameters and varied values; writes nothing to disk.
void print_plan(const StudyDeck& study, const std::vector<StudyCell>& cells, std::ostream& out);

// Each cell's state, step, PPL, CV and tokens/s from its record (read-only); returns 0.
int print_status(const StudyDeck& study, const std::vector<StudyCell>& cells, std::ostream& out);

}  // namespace kmoe
