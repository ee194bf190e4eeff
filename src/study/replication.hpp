// Replication until precise ([replicate] in a study deck): after every cell of the study's seeds
// has run, each condition's difference from the reference in the rule's metric is paired by seed,
// and its 95 % CI half-width t(0.975, n − 1) · sd / √n computed. When every half-width is at most
// the target the study is done; else, below max_seeds, the next round adds seeds_per_round seeds
// (one past the largest so far, and on) and their cells run. The rule looks at precision only,
// never at significance: stopping once a difference "is significant" would bias the estimates and
// inflate false positives (docs/studies.md).
//
// Each round's decision is kept with its numbers in <output_dir>/replicate.toml and listed in the
// manifest, so a rerun, `kmoe-study status`, the report and a Slurm job read the same seeds.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "study/study_deck.hpp"

namespace kmoe {

struct ReplicationRound {
  int64_t round = 0;                                       // 1, 2, …
  std::vector<int64_t> seeds;                              // the seeds the decision saw
  std::vector<std::pair<std::string, double>> halfwidths;  // per condition against the reference
  double widest = 0;           // the largest half-width (infinite where a condition has < 2 pairs)
  std::string decision;        // "precise", "max_seeds" or "add"
  std::vector<int64_t> added;  // the seeds the next round runs
};

std::string replication_file(const StudyDeck& study);
std::vector<ReplicationRound> read_replication_rounds(const StudyDeck& study);

// The study's seeds with those its recorded rounds added (a study without [replicate] unchanged).
StudyDeck with_replicated_seeds(StudyDeck study);

// Throws kmoe::Error, naming the deck and the conditions, when the rule's reference is not a
// condition of the study (checked before any cell runs).
void check_replicate_rule(const StudyDeck& study, const std::vector<StudyCell>& cells);

// The round for the study's current seeds, every cell having run: the recorded one when a round
// was decided at these seeds already, else decided now from the cells' records (their final
// rule.metric) and appended to the replication file. Throws kmoe::Error when the rule's
// reference names no condition.
ReplicationRound replication_round(const StudyDeck& study, const std::vector<StudyCell>& cells);

// The rounds as TOML array-of-tables entries named `table` (the replication file's and the manifest's).
std::string replication_rounds_toml(const std::vector<ReplicationRound>& rounds, const std::string& table);

// A round as one line for the log: "round 2 (seeds 42, 43, 44): widest ±1.31 … → add seed 45".
std::string describe(const ReplicationRound& round, const ReplicateRule& rule);

}  // namespace kmoe
