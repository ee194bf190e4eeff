// The states of a run and of a study's cell, with their one spelling: the record's `status`
// attribute, the manifest, `kmoe-study status` and the report all use these words.
#pragma once

#include <optional>
#include <string>

namespace kmoe {

enum class RunState {
  pending,  // a cell with no output yet
  running,  // a kmoe-train holds the run's lock
  stopped,  // checkpointed (a signal, a stage's end) or killed: --resume continues it
  complete,
  failed,
  pruned,      // a cell whose condition a stage gate did not promote
  unreadable,  // a record that cannot be read (truncated, not a kmoe record)
};

inline const char* to_string(RunState state) {
  switch (state) {
    case RunState::pending:
      return "pending";
    case RunState::running:
      return "running";
    case RunState::stopped:
      return "stopped";
    case RunState::complete:
      return "complete";
    case RunState::failed:
      return "failed";
    case RunState::pruned:
      return "pruned";
    case RunState::unreadable:
      return "unreadable";
  }
  return "unreadable";
}

// nullopt for a word that is none of the states.
inline std::optional<RunState> run_state_from(const std::string& word) {
  for (const RunState s : {RunState::pending, RunState::running, RunState::stopped, RunState::complete,
                           RunState::failed, RunState::pruned, RunState::unreadable}) {
    if (word == to_string(s)) return s;
  }
  return std::nullopt;
}

}  // namespace kmoe
