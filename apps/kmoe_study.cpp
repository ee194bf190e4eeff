// kmoe-study plan|run|status|slurm|prepare|cell STUDY.toml [options]
// plan: the cells as a table, nothing written. run [--jobs N]: every pending cell as a
// kmoe-train process, N at a time, stage by stage with the gates between; complete cells are
// skipped, stopped ones resumed; SIGTERM/SIGINT stop them all with a checkpoint (exit 75) and
// the same command continues. status: one row per cell from its record. slurm [--submit]: the
// preparation job and one job array per stage. prepare and cell --stage K --index I: what
// those jobs run (cell execs kmoe-train for one cell and stage).
#include <Kokkos_Core.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "study/cell_launch.hpp"
#include "study/slurm_scripts.hpp"
#include "study/stage_gate.hpp"
#include "study/study_runner.hpp"
#include "study/study_tables.hpp"

namespace {

using namespace kmoe;

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
      print_plan(study, cells, std::cout);
      status = 0;
    } else if (command == "status") {
      status = print_status(study, cells, std::cout);
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
      print_status(study, cells, std::cout);
    }
  } catch (const std::exception& err) {
    std::cout.flush();
    std::cerr << "kmoe-study: " << err.what() << "\n";
    status = kmoe::kExitFailed;
  }
  Kokkos::finalize();
  return status;
}
