// kmoe-study plan|run|status|slurm|prepare|cell STUDY.toml [options]
// plan: the cells as a table, nothing written. run [--jobs N]: every pending cell as a
// kmoe-train process, N at a time, stage by stage with the gates between; complete cells are
// skipped, stopped ones resumed; SIGTERM/SIGINT stop them all with a checkpoint (exit 75) and
// the same command continues. status: one row per cell from its record. slurm [--submit]: the
// preparation job and one job array per stage. prepare and cell --stage K --index I: what
// those jobs run (cell execs kmoe-train for one cell and stage).
#include <unistd.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "model/model_config.hpp"
#include "model/parameter_registry.hpp"
#include "study/cell_status.hpp"
#include "study/slurm_scripts.hpp"
#include "study/stage_gate.hpp"
#include "study/study_runner.hpp"

namespace {

using namespace kmoe;

// The width of the cell-name column: the longest name and two spaces.
int name_width(const std::vector<StudyCell>& cells) {
  size_t width = 4;
  for (const auto& cell : cells) width = std::max(width, cell.name.size());
  return int(width + 2);
}

std::string varied_text(const StudyCell& cell) {
  std::string text;
  for (const auto& [key, value] : cell.varied) text += (text.empty() ? "" : " ") + key + "=" + value;
  return text;
}

void print_plan(const StudyDeck& study, const std::vector<StudyCell>& cells) {
  const int width = name_width(cells);
  std::cout << "study " << study.name << " (" << study.source << "): " << cells.size() << " cells, base " << study.base
            << ", output " << study.output_dir << "\n";
  std::cout << std::left << std::setw(width) << "cell" << std::right << std::setw(8) << "steps" << std::setw(14)
            << "tokens" << std::setw(12) << "params" << std::setw(12) << "active"
            << "  varied\n";
  int64_t total_tokens = 0;
  for (const auto& cell : cells) {
    const auto& t = cell.deck.train;
    const int64_t tokens = t.max_steps * t.grad_accum * t.batch_size * cell.deck.model.seq_len;
    const auto counts = count_parameters(build_parameter_specs(model_config_from_deck(cell.deck)));
    total_tokens += tokens;
    std::cout << std::left << std::setw(width) << cell.name << std::right << std::setw(8) << t.max_steps
              << std::setw(14) << tokens << std::setw(12) << counts.total << std::setw(12) << counts.active << "  "
              << varied_text(cell) << "\n";
  }
  std::cout << "total: " << cells.size() << " cells, " << total_tokens << " training tokens\n";
}

int print_status(const StudyDeck& study, const std::vector<StudyCell>& cells) {
  const int width = name_width(cells);
  std::cout << std::left << std::setw(width) << "cell" << std::setw(10) << "state" << std::right << std::setw(12)
            << "step" << std::setw(10) << "val ppl" << std::setw(10) << "best" << std::setw(10) << "CV" << std::setw(10)
            << "tok/s"
            << "\n";
  std::map<std::string, int> totals;
  for (const auto& cell : cells) {
    const auto s = read_cell_status(cell);
    const std::string state = to_string(study_cell_state(study, cell, s));
    ++totals[state];
    std::cout << std::left << std::setw(width) << cell.name << std::setw(10) << state << std::right << std::setw(12)
              << (std::to_string(s.step) + "/" + std::to_string(s.max_steps)) << std::fixed << std::setprecision(2)
              << std::setw(10) << s.last_val_ppl << std::setw(10) << s.best_val_ppl << std::setprecision(3)
              << std::setw(10) << s.expert_cv << std::setprecision(0) << std::setw(10) << s.tokens_per_s << "\n";
    if (!s.error.empty()) std::cout << "    error: " << s.error << "\n";
    if (s.pid != 0) std::cout << "    kmoe-train pid " << s.pid << "\n";
    if (state == to_string(RunState::pruned))
      std::cout << "    pruned at the gate into stage " << pruned_at(study, cell) << "\n";
  }
  std::cout << "total: " << cells.size() << " cells";
  for (const auto& [state, n] : totals) std::cout << ", " << n << " " << state;
  std::cout << "\n";
  return 0;
}

std::string sibling_program(const char* name) {
  char self[PATH_MAX] = {0};
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  const std::string dir = n > 0 ? std::string(self, size_t(n)) : std::string();
  return dir.substr(0, dir.rfind('/') + 1) + name;
}

// Execs kmoe-train for one cell and stage (an array task's work); 0 when it has nothing to do.
int run_one_cell(const StudyDeck& study, const std::vector<StudyCell>& cells, long index, long stage) {
  const long n = long(cells.size()), stages = long(stages_of(study).size());
  require(index >= 0 && index < n, "cell --index must be in 0.." + std::to_string(n - 1));
  require(stage >= 0 && stage < stages, "cell --stage must be in 0.." + std::to_string(stages - 1));
  const StudyCell& cell = cells[size_t(index)];
  require(std::filesystem::exists(cell_deck_path(study, cell)),
          cell_deck_path(study, cell) + " does not exist: run `kmoe-study prepare " + study.source + "` first");
  stage_gate(study, cells, size_t(stage));  // decided by the first task to get here, then read
  const CellPlan plan = plan_cell(study, cell, size_t(stage));
  const auto& args = plan.args;
  if (!args.empty() && plan.running_pid != 0) {  // e.g. a requeued task while the old one still ends
    std::cout << "cell " << cell.name << ": still running (kmoe-train pid " << plan.running_pid << ")\n";
    return kExitStopped;
  }
  if (args.empty()) {
    std::cout << "cell " << cell.name << ": nothing to do (" << plan.why_not << ")\n";
    return 0;
  }
  const std::string program = sibling_program("kmoe-train");
  std::vector<char*> argv{const_cast<char*>(program.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::cout << "cell " << cell.name << ": kmoe-train";
  for (const auto& a : args) std::cout << " " << a;
  std::cout << std::endl;
  Kokkos::finalize();
  ::execv(program.c_str(), argv.data());
  std::cerr << "kmoe-study: cannot run " << program << ": " << std::strerror(errno) << "\n";
  std::_Exit(1);
}

int write_slurm(const StudyDeck& study, const std::vector<StudyCell>& cells, const std::string& path, bool submit) {
  const std::string absolute = std::filesystem::absolute(path).lexically_normal().string();
  const auto scripts = slurm_scripts(study, cells.size(), sibling_program("kmoe-study"), absolute);
  const auto ids = write_and_submit(scripts, submit);
  for (size_t i = 0; i < scripts.size(); ++i) {
    std::cout << scripts[i].path;
    if (submit) std::cout << ": job " << ids[i];
    std::cout << "\n";
  }
  if (!submit) {
    std::cout << "submit them in this order, each depending on the one before (" << scripts[1].depends
              << " for the first array, afterany after that), or run: kmoe-study slurm " << path << " --submit\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* usage =
      "usage: kmoe-study plan|run|status|slurm|prepare STUDY.toml [--jobs N] [--rerun-changed] [--submit]\n"
      "       kmoe-study cell STUDY.toml --stage K --index I\n";
  if (argc < 3) {
    std::cerr << usage;
    return kmoe::kExitUsage;
  }
  const std::string command = argv[1], path = argv[2];
  StudyRunOptions options;
  bool submit = false;
  long index = -1, stage = -1;
  const auto number = [&](int& i) {
    char* end = nullptr;
    const long v = std::strtol(argv[++i], &end, 10);
    return *end == '\0' ? v : -1;
  };
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--jobs" && has_value && command == "run") {
      options.jobs = int(number(i));
    } else if (arg == "--rerun-changed" && command == "run") {
      options.rerun_changed = true;
    } else if (arg == "--submit" && command == "slurm") {
      submit = true;
    } else if (arg == "--stage" && has_value && command == "cell") {
      stage = number(i);
    } else if (arg == "--index" && has_value && command == "cell") {
      index = number(i);
    } else {
      std::cerr << "kmoe-study: unexpected argument '" << arg << "'\n" << usage;
      return kmoe::kExitUsage;
    }
  }
  const std::set<std::string> commands{"plan", "run", "status", "slurm", "prepare", "cell"};
  if (options.jobs < 1 || !commands.count(command) || (command == "cell" && (stage < 0 || index < 0))) {
    std::cerr << usage;
    return kmoe::kExitUsage;
  }
  setenv("OMP_PROC_BIND", "false", 0);
  Kokkos::initialize(argc, argv);
  int status = kmoe::kExitFailed;
  try {
    const auto study = load_study_deck(path);
    const auto cells = expand_study(study);
    check_promote_rules(study, cells);
    if (command == "plan") {
      print_plan(study, cells);
      status = 0;
    } else if (command == "status") {
      status = print_status(study, cells);
    } else if (command == "slurm") {
      status = write_slurm(study, cells, path, submit);
    } else if (command == "prepare") {
      if (const auto changed = changed_cells(study, cells); !changed.empty()) {
        throw Error(changed_cells_message(study, changed));
      }
      prepare_study(study, cells, std::cout);
      status = 0;
    } else if (command == "cell") {
      status = run_one_cell(study, cells, index, stage);
    } else {
      options.kmoe_train = sibling_program("kmoe-train");
      status = run_study(study, cells, options, std::cout);
      print_status(study, cells);
    }
  } catch (const std::exception& err) {
    std::cout.flush();
    std::cerr << "kmoe-study: " << err.what() << "\n";
    status = kmoe::kExitFailed;
  }
  Kokkos::finalize();
  return status;
}
