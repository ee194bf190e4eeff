// The study deck: a base run deck, a grid of values (Cartesian product of every list under
// [grid.*]), explicit [[cells]], replicate seeds and fixed [set.*] overrides, expanded into
// cells. Each cell is a fully resolved, validated run deck; a bad key or value is an error
// naming the study file, the cell and the key, before anything runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/run_deck.hpp"

namespace kmoe {

struct StudyCell {
  std::string name;                                         // e.g. "noise_std=0.5,load_balancing_weight=0,seed=43"
  std::string condition;                                    // the name without its seed: what seeds replicate
  std::vector<std::pair<std::string, std::string>> varied;  // full key -> value (TOML text), seed last
  RunDeck deck;                                             // run.name = name, run.output_dir = <output_dir>/runs
};

// The promote rule at the start of a stage, judged per condition (seeds averaged) on the
// validation loss at the previous stage's until_step: a condition goes on if it beats its
// reference by at least better_by (nats), or is within or_balance_within of it with a lower
// expert CV; or, with `top`, the `top` conditions of lowest loss go on. The rest are pruned.
struct PromoteRule {
  // A condition's name (e.g. an explicit cell's), or "key=value[,key=value]" (short or full
  // keys): then a condition's reference is the condition with these values substituted into
  // its own, else the one condition that has them.
  std::string reference;
  double better_by = 0;
  double or_balance_within = -1;  // < 0: no balance clause
  int64_t top = 0;                // > 0: keep the best `top` instead
};

struct Stage {
  std::string name;
  int64_t until_step = 0;  // 0: each cell's train.max_steps
  bool has_promote = false;
  PromoteRule promote;
};

// Defaults for `kmoe-study slurm` ([slurm]); empty / 0 = not passed to sbatch.
struct SlurmSettings {
  std::string partition, account, time, mem;
  int64_t gpus_per_task = 0, cpus_per_task = 0, max_parallel = 0;
  int64_t ranks_per_cell = 1;  // MPI ranks of each cell's kmoe-train (docs/distributed.md)
};

// [replicate]: seeds are added round by round until every condition's difference from the
// reference, paired by seed, is known to `target_halfwidth` (95 % CI) or the study has
// `max_seeds` seeds (study/replication.hpp).
struct ReplicateRule {
  std::string metric;  // a final metric of the records (kReplicateMetrics)
  double target_halfwidth = 0;
  int64_t max_seeds = 0, seeds_per_round = 1;
  std::string reference;  // a condition's name; "" = the first condition
};
inline const char* const kReplicateMetrics[] = {"best_val_ppl", "val_loss", "val_ppl", "expert_cv"};

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
  std::vector<Stage> stages;  // empty: one stage to max_steps
  SlurmSettings slurm;
  std::optional<ReplicateRule> replicate;
};

// Reads and checks the study file's own structure; `base` and `output_dir` are resolved
// relative to the study file.
StudyDeck load_study_deck(const std::string& path);

// Every cell, grid cells first (first grid key varying slowest), then explicit cells, each
// once per seed. Throws kmoe::Error naming the study file and the cell.
std::vector<StudyCell> expand_study(const StudyDeck& study);

// A varied value (TOML text) as it appears in a cell name: strings without their quotes.
std::string unquoted(const std::string& value);

// "moe.noise_std" → "noise_std": a full deck key as cell names write it.
std::string short_key(const std::string& key);

// "a=1,b=x" → {{"a", "1"}, {"b", "x"}} (an item without '=' gets an empty value).
std::vector<std::pair<std::string, std::string>> split_pairs(const std::string& text);

}  // namespace kmoe
