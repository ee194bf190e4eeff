#include "train/resume_compatibility.hpp"

#include <set>

#include "io/deck_schema.hpp"
#include "train/deck_settings.hpp"

namespace kmoe {
namespace {

// Keys that change nothing already trained: how often to log and checkpoint, and when to
// stop early (the rule only looks at the trajectory from here on).
const std::set<std::string> kHarmlessKeys = {
    "output.log_every",     "output.checkpoint_every", "train.debug_signal_step", "early_stop.patience",
    "early_stop.min_delta", "early_stop.slope_window", "early_stop.max_slope",    "early_stop.routing_tolerance"};

// Where files are, not what is trained: a study continued from another directory, through an
// absolute path or after being moved spells them differently. The data's identity (checksums of
// the token shards) is checked on its own.
const std::set<std::string> kLocationKeys = {"run.output_dir", "data.corpus", "data.data_dir",     "data.train_shard",
                                             "data.val_shard", "output.hdf5", "model.init_weights"};

// True when both totals give the same schedules over the updates already done.
bool schedules_agree(const RunDeck& a, const RunDeck& b, int64_t updates_done) {
  for (int64_t u = 0; u < updates_done; ++u) {
    if (lr_multiplier(lr_schedule_from_deck(a), u, a.train.max_steps) !=
        lr_multiplier(lr_schedule_from_deck(b), u, b.train.max_steps))
      return false;
    if (aux_coefficient(load_balancing_schedule_from_deck(a), u, a.train.max_steps) !=
        aux_coefficient(load_balancing_schedule_from_deck(b), u, b.train.max_steps)) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string resume_incompatibility(const RunDeck& then, const RunDeck& now, int64_t updates_done) {
  RunDeck old_deck = then, new_deck = now;
  const auto old_fields = deck_fields(old_deck), new_fields = deck_fields(new_deck);
  std::string changed;
  for (size_t i = 0; i < old_fields.size(); ++i) {
    const std::string name = old_fields[i].full_name();
    const std::string before = value_text(old_fields[i]), after = value_text(new_fields[i]);
    if (before == after || kHarmlessKeys.count(name) || kLocationKeys.count(name)) continue;
    if (name == "train.max_steps" && now.train.max_steps >= updates_done && schedules_agree(then, now, updates_done)) {
      continue;
    }
    changed += (changed.empty() ? "" : ", ") + name + " " + before + " -> " + after;
  }
  if (changed.empty()) return "";
  std::string reason = "the deck changed since the checkpoint: " + changed;
  if (changed.find("train.max_steps") != std::string::npos) {
    reason += " (train.max_steps may change only where the LR and aux schedules stay the same for the " +
              std::to_string(updates_done) +
              " updates done: decay = \"constant\", warmup_frac = 0, a constant aux weight)";
  }
  return reason +
         "; only output.log_every, output.checkpoint_every, train.debug_signal_step, the early_stop keys "
         "and paths (to the same data) may change on --resume";
}

}  // namespace kmoe
