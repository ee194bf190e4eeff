// One training run: data, model and optimizer from a deck; training with gradient
// accumulation, clipping and schedules; evaluation; the HDF5 record; checkpoints (periodic
// and on SIGTERM / SIGINT); resume; NaN/Inf detection. Nothing is lost: one process per run
// (a lock), earlier results are kept unless the request says --resume or --overwrite, every
// file is replaced atomically, and everything that can be checked is checked before step 1.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "core/exit_codes.hpp"
#include "io/run_deck.hpp"

namespace kmoe {

struct TrainerRequest {
  RunDeck deck;
  std::vector<std::string> overrides;  // recorded in the output
  bool resume = false;                 // continue from the checkpoint (a complete run: nothing to do)
  bool overwrite = false;              // start over, deleting this run's earlier outputs
  // Stop cleanly at this update (0 = run to train.max_steps): evaluate there, checkpoint and
  // end with status stopped and exit code 0; --resume continues later on the same schedule
  // (the stages of a study).
  int64_t until_step = 0;
  // On several ranks: every rank updates every tensor instead of its own shard (the same
  // result; the benchmark's baseline).
  bool replicate_optimizer = false;
};

// Runs the whole training; progress goes to `log`. Returns one of the exit codes above.
int run_training(const TrainerRequest& request, std::ostream& log);

}  // namespace kmoe
