// Whether a run may continue from a checkpoint written under another resolved deck. Keys that
// do not change the trajectory may differ (output.log_every, output.checkpoint_every,
// train.debug_signal_step);
// train.max_steps may grow only where the result stays exact: the LR and aux-coefficient
// schedules must give the same values for every update already done under the old total
// (constant schedules do; cosine, linear or a warm-up depend on the total).
#pragma once

#include <string>

#include "io/run_deck.hpp"

namespace kmoe {

// "" when `now` may continue the checkpoint of `then` after `updates_done` updates; otherwise
// the reason, naming each key that changed with its old and new value.
std::string resume_incompatibility(const RunDeck& then, const RunDeck& now, int64_t updates_done);

}  // namespace kmoe
