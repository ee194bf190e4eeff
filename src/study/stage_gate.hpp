// Stage gates: which conditions go on to the next stage (the promote rule, decided per
// condition with its seeds averaged), and the gate files that keep each decision with its
// reason and numbers (<output_dir>/gates/<stage>.toml), so a rerun, a status or a Slurm array
// task reads the same decision instead of judging again.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "study/study_deck.hpp"

namespace kmoe {

struct ConditionResult {
  std::string condition;
  std::vector<std::pair<std::string, std::string>> varied;  // without the seed
  int runs = 0;                                             // cells with a validation loss at the gate's step
  double val_loss = 0, expert_cv = 0;                       // means over those cells
};

struct GateDecision {
  std::string condition;
  bool promoted = false;
  std::string reason;
  double val_loss = 0, expert_cv = 0;
  int runs = 0;
  std::string reference;  // the condition compared against ("" for top)
  double reference_val_loss = 0, reference_expert_cv = 0;
};

struct GateRecord {
  std::string stage;    // the stage the promoted conditions enter
  int64_t at_step = 0;  // the previous stage's until_step
  std::vector<GateDecision> decisions;
};

// Decides every condition; throws kmoe::Error when a condition has no reference.
std::vector<GateDecision> decide_promotions(const PromoteRule& rule, const std::vector<ConditionResult>& results);

// Throws kmoe::Error (naming the stage) when a promote rule's reference matches no condition
// for some condition: checked before any compute, not after a stage of it.
void check_promote_rules(const StudyDeck& study, const std::vector<StudyCell>& cells);

// Stage `stage_index`'s gate: read from its file when decided before; otherwise decided from
// the cells' records at the previous stage's until_step and written. nullopt for a stage
// without a promote rule (and for the one implicit stage of a study without stages).
std::optional<GateRecord> stage_gate(const StudyDeck& study, const std::vector<StudyCell>& cells, size_t stage_index);

// The stage whose gate pruned this cell's condition ("" if none has).
std::string pruned_at(const StudyDeck& study, const StudyCell& cell);

std::string gate_file(const StudyDeck& study, const Stage& stage);
void write_gate_file(const std::string& path, const GateRecord& gate);
GateRecord read_gate_file(const std::string& path);

}  // namespace kmoe
