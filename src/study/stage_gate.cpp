#include "study/stage_gate.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "core/error.hpp"
#include "io/atomic_file.hpp"
#include "io/deck_schema.hpp"
#include "study/cell_status.hpp"

namespace kmoe {
namespace fs = std::filesystem;

namespace {

using Varied = std::vector<std::pair<std::string, std::string>>;

// Values as the study writes them: 0.0 and 0 are the same number.
bool same_value(const std::string& a, const std::string& b) {
  char *end_a = nullptr, *end_b = nullptr;
  const double x = std::strtod(a.c_str(), &end_a), y = std::strtod(b.c_str(), &end_b);
  if (!a.empty() && !b.empty() && *end_a == '\0' && *end_b == '\0') return x == y;
  return unquoted(a) == unquoted(b);
}

bool key_matches(const std::string& full, const std::string& given) {
  return full == given || short_key(full) == given;
}

bool has_values(const Varied& varied, const Varied& wanted) {
  for (const auto& [key, value] : wanted) {
    const auto it =
        std::find_if(varied.begin(), varied.end(), [&](const auto& kv) { return key_matches(kv.first, key); });
    if (it == varied.end() || !same_value(it->second, value)) return false;
  }
  return true;
}

bool same_varied(const Varied& a, const Varied& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || !same_value(a[i].second, b[i].second)) return false;
  }
  return true;
}

const ConditionResult& reference_of(const ConditionResult& c, const std::vector<ConditionResult>& all,
                                    const std::string& spec) {
  for (const auto& other : all) {
    if (other.condition == spec) return other;  // an explicit cell named as the reference
  }
  const Varied wanted = split_pairs(spec);
  Varied substituted = c.varied;
  size_t replaced = 0;
  for (auto& [key, value] : substituted) {
    for (const auto& [k, v] : wanted) {
      if (key_matches(key, k)) value = v, ++replaced;
    }
  }
  if (replaced == wanted.size()) {
    for (const auto& other : all) {
      if (same_varied(other.varied, substituted)) return other;
    }
  }
  const ConditionResult* only = nullptr;
  int matches = 0;
  for (const auto& other : all) {
    if (has_values(other.varied, wanted)) only = &other, ++matches;
  }
  if (matches == 1) return *only;
  throw Error("promote: no reference for condition '" + c.condition + "': reference '" + spec + "' matches " +
              std::to_string(matches) + " conditions and none differs from it only in those values");
}

std::string number(double v) {
  std::ostringstream out;
  out.precision(4);
  out << std::fixed << v;
  return out.str();
}

}  // namespace

std::vector<GateDecision> decide_promotions(const PromoteRule& rule, const std::vector<ConditionResult>& results) {
  std::vector<GateDecision> decisions;
  std::vector<const ConditionResult*> ranked;
  for (const auto& c : results) {
    if (c.runs > 0) ranked.push_back(&c);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](auto* a, auto* b) { return a->val_loss < b->val_loss; });
  for (const auto& c : results) {
    GateDecision d;
    d.condition = c.condition;
    d.val_loss = c.val_loss;
    d.expert_cv = c.expert_cv;
    d.runs = c.runs;
    if (c.runs == 0) {
      d.reason = "no validation loss at the gate (its cells failed or have not reached it)";
    } else if (rule.top > 0) {
      const size_t rank = size_t(std::find(ranked.begin(), ranked.end(), &c) - ranked.begin()) + 1;
      d.promoted = rank <= size_t(rule.top);
      d.reason = "rank " + std::to_string(rank) + " of " + std::to_string(ranked.size()) + " by val loss " +
                 number(c.val_loss) + (d.promoted ? " <= " : " > ") + "top " + std::to_string(rule.top);
    } else {
      const ConditionResult& ref = reference_of(c, results, rule.reference);
      d.reference = ref.condition;
      d.reference_val_loss = ref.val_loss;
      d.reference_expert_cv = ref.expert_cv;
      const double gain = ref.val_loss - c.val_loss;
      if (&ref == &c) {
        d.promoted = true;
        d.reason = "reference condition";
      } else if (ref.runs == 0) {
        d.promoted = true;
        d.reason = "kept: its reference " + ref.condition + " has no validation loss to compare with";
      } else if (gain >= rule.better_by) {
        d.promoted = true;
        d.reason = "val loss " + number(c.val_loss) + " beats the reference's " + number(ref.val_loss) + " by " +
                   number(gain) + " >= " + number(rule.better_by);
      } else if (rule.or_balance_within >= 0 && std::abs(gain) <= rule.or_balance_within &&
                 c.expert_cv < ref.expert_cv) {
        d.promoted = true;
        d.reason = "val loss " + number(c.val_loss) + " within " + number(rule.or_balance_within) +
                   " of the reference's " + number(ref.val_loss) + " with better balance (expert CV " +
                   number(c.expert_cv) + " < " + number(ref.expert_cv) + ")";
      } else {
        d.reason = "val loss " + number(c.val_loss) + " vs the reference's " + number(ref.val_loss) + ": gain " +
                   number(gain) + " < " + number(rule.better_by) +
                   (rule.or_balance_within >= 0
                        ? ", and not within " + number(rule.or_balance_within) + " with a lower expert CV (" +
                              number(c.expert_cv) + " vs " + number(ref.expert_cv) + ")"
                        : "");
      }
    }
    decisions.push_back(d);
  }
  return decisions;
}

std::string gate_file(const StudyDeck& study, const Stage& stage) {
  return study.output_dir + "/gates/" + stage.name + ".toml";
}

void write_gate_file(const std::string& path, const GateRecord& gate) {
  std::ostringstream out;
  out.precision(17);
  out << "# Gate into stage " << toml_string(gate.stage)
      << ": conditions (seeds averaged) judged on the validation loss at step " << gate.at_step
      << "\nstage = " << toml_string(gate.stage) << "\nat_step = " << gate.at_step << "\n";
  for (const auto& d : gate.decisions) {
    out << "\n[[decisions]]\ncondition = " << toml_string(d.condition)
        << "\npromoted = " << (d.promoted ? "true" : "false") << "\nreason = " << toml_string(d.reason)
        << "\nruns = " << d.runs << "\nval_loss = " << float_text(d.val_loss)
        << "\nexpert_cv = " << float_text(d.expert_cv) << "\n";
    if (!d.reference.empty()) {
      out << "reference = " << toml_string(d.reference) << "\nreference_val_loss = " << float_text(d.reference_val_loss)
          << "\nreference_expert_cv = " << float_text(d.reference_expert_cv) << "\n";
    }
  }
  fs::create_directories(fs::path(path).parent_path());
  write_file_atomically(path, out.str(), "gate");
}

GateRecord read_gate_file(const std::string& path) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& err) {
    throw Error(path + ": unreadable gate file (" + std::string(err.description()) + "); delete it to decide again");
  }
  GateRecord g;
  g.stage = t["stage"].value_or(std::string());
  g.at_step = t["at_step"].value_or(int64_t{0});
  if (const auto* list = t["decisions"].as_array()) {
    for (const auto& node : *list) {
      const auto& d = *node.as_table();
      GateDecision x;
      x.condition = d["condition"].value_or(std::string());
      x.promoted = d["promoted"].value_or(false);
      x.reason = d["reason"].value_or(std::string());
      x.runs = int(d["runs"].value_or(int64_t{0}));
      x.val_loss = d["val_loss"].value_or(0.0);
      x.expert_cv = d["expert_cv"].value_or(0.0);
      x.reference = d["reference"].value_or(std::string());
      x.reference_val_loss = d["reference_val_loss"].value_or(0.0);
      x.reference_expert_cv = d["reference_expert_cv"].value_or(0.0);
      g.decisions.push_back(x);
    }
  }
  return g;
}

namespace {

// The entry of the cell's condition in `results`, appended (with its varied values, less the
// seed, and no runs yet) the first time.
ConditionResult& condition_entry(std::vector<ConditionResult>& results, const StudyCell& cell) {
  for (auto& c : results) {
    if (c.condition == cell.condition) return c;
  }
  ConditionResult c;
  c.condition = cell.condition;
  for (const auto& kv : cell.varied) {
    if (kv.first != "run.seed") c.varied.push_back(kv);
  }
  return results.emplace_back(std::move(c));
}

}  // namespace

void check_promote_rules(const StudyDeck& study, const std::vector<StudyCell>& cells) {
  std::vector<ConditionResult> conditions;
  for (const auto& cell : cells) condition_entry(conditions, cell).runs = 1;
  for (const auto& stage : study.stages) {
    if (!stage.has_promote) continue;
    try {
      decide_promotions(stage.promote, conditions);
    } catch (const Error& err) {
      throw Error(study.source + ": stage '" + stage.name + "': " + err.what());
    }
  }
}

std::optional<GateRecord> stage_gate(const StudyDeck& study, const std::vector<StudyCell>& cells, size_t k) {
  if (k >= study.stages.size() || !study.stages[k].has_promote) return std::nullopt;
  const Stage& stage = study.stages[k];
  const std::string path = gate_file(study, stage);
  if (fs::exists(path)) return read_gate_file(path);
  GateRecord gate;
  gate.stage = stage.name;
  gate.at_step = study.stages.at(k - 1).until_step;
  std::vector<ConditionResult> results;
  std::string missing;  // cells without a result at the gate: deciding now would prune on absent data
  for (const auto& cell : cells) {
    if (!pruned_at(study, cell).empty()) continue;  // pruned at an earlier gate
    const auto status = read_cell_status(cell);
    const auto at_gate = validation_at(cell, gate.at_step);
    const bool has_result = status.state == RunState::failed || status.state == RunState::complete ||
                            (status.state == RunState::stopped && at_gate && at_gate->step == gate.at_step);
    if (!has_result) {
      missing += (missing.empty() ? "" : ", ") + cell.name + " (" + to_string(status.state) + ", step " +
                 std::to_string(status.step) + ")";
    }
    auto& c = condition_entry(results, cell);
    // At the gate, or earlier for a cell stopped early.
    if (at_gate && (at_gate->step == gate.at_step || status.state == RunState::complete)) {
      c.val_loss += at_gate->val_loss;
      c.expert_cv += at_gate->expert_cv;
      ++c.runs;
    }
  }
  require(missing.empty(), "the gate into stage " + stage.name + " needs every cell's result at step " +
                               std::to_string(gate.at_step) + ", and these have none yet: " + missing +
                               "; finish stage " + study.stages.at(k - 1).name + " first (nothing was decided)");
  for (auto& c : results) {
    if (c.runs) c.val_loss /= c.runs, c.expert_cv /= c.runs;
  }
  gate.decisions = decide_promotions(stage.promote, results);
  write_gate_file(path, gate);
  return gate;
}

std::string pruned_at(const StudyDeck& study, const StudyCell& cell) {
  for (const auto& stage : study.stages) {
    const std::string path = gate_file(study, stage);
    if (!stage.has_promote || !fs::exists(path)) continue;
    for (const auto& d : read_gate_file(path).decisions) {
      if (d.condition == cell.condition && !d.promoted) return stage.name;
    }
  }
  return "";
}

}  // namespace kmoe
