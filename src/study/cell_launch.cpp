#include "study/cell_launch.hpp"

#include <unistd.h>

#include <Kokkos_Core.hpp>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "study/stage_gate.hpp"
#include "study/study_runner.hpp"

namespace kmoe {

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
  std::vector<std::string> command;
  if (study.slurm.ranks_per_cell > 1) {  // the array task's ranks: srun hands each its PMIx rank
    command = {"srun", "--ntasks=" + std::to_string(study.slurm.ranks_per_cell), "--mpi=pmix"};
  }
  command.push_back(sibling_program("kmoe-train"));
  command.insert(command.end(), args.begin(), args.end());
  std::vector<char*> argv;
  std::cout << "cell " << cell.name << ":";
  for (auto& a : command) {
    argv.push_back(a.data());
    std::cout << " " << a;
  }
  argv.push_back(nullptr);
  std::cout << std::endl;
  Kokkos::finalize();
  ::execvp(argv[0], argv.data());
  const std::string& program = command.front();
  std::cerr << "kmoe-study: cannot run " << program << ": " << std::strerror(errno) << "\n";
  std::_Exit(1);
}

}  // namespace kmoe
