#include "study/cell_status.hpp"

#include "core/error.hpp"
#include "io/hdf5_reader.hpp"
#include "train/run_lock.hpp"
#include "train/run_paths.hpp"

#include <filesystem>

namespace kmoe {
namespace fs = std::filesystem;

namespace {

double last_or_zero(const std::vector<double>& v) { return v.empty() ? 0.0 : v.back(); }

void read_numbers(const std::string& record, CellStatus& s) {
  const Hdf5Reader in(record);
  s.step = int64_t(in.read<int64_t>("/train/step").size());
  s.tokens_per_s = last_or_zero(in.read<double>("/train/tokens_per_s"));
  s.last_val_ppl = last_or_zero(in.read<double>("/eval/val_ppl"));
  s.best_val_ppl = last_or_zero(in.read<double>("/eval/best_val_ppl"));
  if (in.has("/eval/expert_cv_mean")) s.expert_cv = last_or_zero(in.read<double>("/eval/expert_cv_mean"));
  if (run_state_from(in.string_attribute("/", "status")) == RunState::failed) {
    s.error = in.string_attribute("/", "error");
  }
}

}  // namespace

std::optional<CellValidation> validation_at(const StudyCell& cell, int64_t step) {
  const RunPaths paths = run_paths(cell.deck);
  for (const auto& record : {paths.record, paths.partial}) {
    if (!fs::exists(record)) continue;
    const Hdf5Reader in(record);
    const auto steps = in.read<int64_t>("/eval/step");
    const auto loss = in.read<double>("/eval/val_loss");
    const auto cv = in.has("/eval/expert_cv_mean") ? in.read<double>("/eval/expert_cv_mean") : std::vector<double>();
    std::optional<CellValidation> found;
    for (size_t i = 0; i < steps.size() && steps[i] <= step; ++i) {
      found = CellValidation{steps[i], loss[i], cv.empty() ? 0.0 : cv[i]};
    }
    return found;
  }
  return std::nullopt;
}

CellStatus read_cell_status(const StudyCell& cell) {
  CellStatus s;
  s.max_steps = cell.deck.train.max_steps;
  const RunPaths paths = run_paths(cell.deck);
  s.pid = lock_holder(paths.locks.front() + ".lock");
  std::string record;
  if (fs::exists(paths.record)) {
    record = paths.record;
    try {
      s.state = run_state_from(Hdf5Reader(record).string_attribute("/", "status")).value_or(RunState::unreadable);
    } catch (const Error& err) {  // truncated or not a record: this cell's problem, not the study's
      s.state = RunState::unreadable;
      s.error = err.what();
      record.clear();
    }
  } else if (fs::exists(paths.partial)) {
    record = paths.partial;
    s.state = RunState::stopped;  // killed: resumable from its checkpoint
  } else if (fs::exists(paths.checkpoint)) {
    s.state = RunState::stopped;
  }
  if (s.pid != 0) s.state = RunState::running;
  if (!record.empty()) {
    try {
      read_numbers(record, s);
    } catch (const Error&) {  // a record being replaced this instant: its numbers next time
    }
  }
  return s;
}

}  // namespace kmoe
