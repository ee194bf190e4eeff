#include "study/cell_status.hpp"

#include <filesystem>

#include "core/error.hpp"
#include "io/hdf5_reader.hpp"
#include "train/record_datasets.hpp"
#include "train/run_lock.hpp"
#include "train/run_paths.hpp"

namespace kmoe {
namespace fs = std::filesystem;

namespace {

double last_or_zero(const std::vector<double>& v) { return v.empty() ? 0.0 : v.back(); }

void read_numbers(const std::string& record, CellStatus& s) {
  const Hdf5Reader in(record);
  s.step = int64_t(in.read<int64_t>(record::kTrainStep).size());
  s.tokens_per_s = last_or_zero(in.read<double>(record::kTrainTokensPerS));
  s.last_val_ppl = last_or_zero(in.read<double>(record::kEvalValPpl));
  s.best_val_ppl = last_or_zero(in.read<double>(record::kEvalBestValPpl));
  if (in.has(record::kEvalExpertCvMean)) s.expert_cv = last_or_zero(in.read<double>(record::kEvalExpertCvMean));
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
    const auto steps = in.read<int64_t>(record::kEvalStep);
    const auto loss = in.read<double>(record::kEvalValLoss);
    const auto cv =
        in.has(record::kEvalExpertCvMean) ? in.read<double>(record::kEvalExpertCvMean) : std::vector<double>();
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
