#include "study/study_tables.hpp"

#include <algorithm>
#include <iomanip>
#include <map>

#include "core/run_state.hpp"
#include "model/parameter_registry.hpp"
#include "study/cell_status.hpp"
#include "study/replication.hpp"
#include "study/stage_gate.hpp"
#include "study/study_runner.hpp"
#include "train/deck_settings.hpp"

namespace kmoe {

namespace {

// The width of the cell-name column: the longest name and two spaces.
int name_width(const std::vector<StudyCell>& cells) {
  size_t width = 4;
  for (const auto& cell : cells) width = std::max(width, cell.name.size());
  return int(width + 2);
}

// "[replicate]" in one line: the rule, and each round decided so far.
void print_replication(const StudyDeck& study, std::ostream& out) {
  if (!study.replicate) return;
  const auto& rule = *study.replicate;
  out << std::defaultfloat << std::setprecision(6) << "replicate: " << rule.metric << " to ±" << rule.target_halfwidth
      << " (95 % CI half-width against the " << (rule.reference.empty() ? "first condition" : rule.reference)
      << "), up to " << rule.max_seeds << " seeds, " << rule.seeds_per_round << " per round\n";
  for (const auto& round : read_replication_rounds(study)) out << "  " << describe(round, rule) << "\n";
}

std::string varied_text(const StudyCell& cell) {
  std::string text;
  for (const auto& [key, value] : cell.varied) text += (text.empty() ? "" : " ") + key + "=" + value;
  return text;
}

}  // namespace

void print_plan(const StudyDeck& study, const std::vector<StudyCell>& cells, std::ostream& out) {
  const int width = name_width(cells);
  out << "study " << study.name << " (" << study.source << "): " << cells.size() << " cells, base " << study.base
      << ", output " << study.output_dir << "\n";
  out << std::left << std::setw(width) << "cell" << std::right << std::setw(8) << "steps" << std::setw(14) << "tokens"
      << std::setw(12) << "params" << std::setw(12) << "active"
      << "  varied\n";
  int64_t total_tokens = 0;
  for (const auto& cell : cells) {
    const auto& t = cell.deck.train;
    const int64_t tokens = t.max_steps * t.grad_accum * t.batch_size * cell.deck.model.seq_len;
    const auto counts = count_parameters(build_parameter_specs(model_config_from_deck(cell.deck)));
    total_tokens += tokens;
    out << std::left << std::setw(width) << cell.name << std::right << std::setw(8) << t.max_steps << std::setw(14)
        << tokens << std::setw(12) << counts.total << std::setw(12) << counts.active << "  " << varied_text(cell)
        << "\n";
  }
  out << "total: " << cells.size() << " cells, " << total_tokens << " training tokens\n";
  print_replication(study, out);
}

int print_status(const StudyDeck& study, const std::vector<StudyCell>& cells, std::ostream& out) {
  const int width = name_width(cells);
  out << std::left << std::setw(width) << "cell" << std::setw(10) << "state" << std::right << std::setw(12) << "step"
      << std::setw(10) << "val ppl" << std::setw(10) << "best" << std::setw(10) << "CV" << std::setw(10) << "tok/s"
      << "\n";
  std::map<std::string, int> totals;
  for (const auto& cell : cells) {
    const auto s = read_cell_status(cell);
    const std::string state = to_string(study_cell_state(study, cell, s));
    ++totals[state];
    out << std::left << std::setw(width) << cell.name << std::setw(10) << state << std::right << std::setw(12)
        << (std::to_string(s.step) + "/" + std::to_string(s.max_steps)) << std::fixed << std::setprecision(2)
        << std::setw(10) << s.last_val_ppl << std::setw(10) << s.best_val_ppl << std::setprecision(3) << std::setw(10)
        << s.expert_cv << std::setprecision(0) << std::setw(10) << s.tokens_per_s << "\n";
    if (!s.error.empty()) out << "    error: " << s.error << "\n";
    if (s.pid != 0) out << "    kmoe-train pid " << s.pid << "\n";
    if (state == to_string(RunState::pruned))
      out << "    pruned at the gate into stage " << pruned_at(study, cell) << "\n";
  }
  out << "total: " << cells.size() << " cells";
  for (const auto& [state, n] : totals) out << ", " << n << " " << state;
  out << "\n";
  print_replication(study, out);
  return 0;
}

}  // namespace kmoe
