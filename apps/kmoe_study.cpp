// kmoe-study plan|run|status STUDY.toml [--jobs N]
// plan: the cells as a table, nothing written. run: every pending cell as a kmoe-train
// process, N at a time; complete cells are skipped, stopped ones resumed; SIGTERM/SIGINT
// stop them all with a checkpoint (exit 75) and the same command continues. status: one row
// per cell from its record.
#include "core/error.hpp"
#include "model/model_config.hpp"
#include "model/parameter_registry.hpp"
#include "study/cell_status.hpp"
#include "study/study_runner.hpp"

#include <Kokkos_Core.hpp>

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <map>
#include <cstring>
#include <iomanip>
#include <iostream>

namespace {

using namespace kmoe;

std::string varied_text(const StudyCell& cell) {
  std::string text;
  for (const auto& [key, value] : cell.varied) text += (text.empty() ? "" : " ") + key + "=" + value;
  return text;
}

void print_plan(const StudyDeck& study, const std::vector<StudyCell>& cells) {
  std::cout << "study " << study.name << " (" << study.source << "): " << cells.size() << " cells, base "
            << study.base << ", output " << study.output_dir << "\n";
  std::cout << std::left << std::setw(48) << "cell" << std::right << std::setw(8) << "steps" << std::setw(14)
            << "tokens" << std::setw(12) << "params" << std::setw(12) << "active" << "  varied\n";
  int64_t total_tokens = 0;
  for (const auto& cell : cells) {
    const auto& t = cell.deck.train;
    const int64_t tokens = t.max_steps * t.grad_accum * t.batch_size * cell.deck.model.seq_len;
    const auto counts = count_parameters(build_parameter_specs(model_config_from_deck(cell.deck)));
    total_tokens += tokens;
    std::cout << std::left << std::setw(48) << cell.name << std::right << std::setw(8) << t.max_steps << std::setw(14)
              << tokens << std::setw(12) << counts.total << std::setw(12) << counts.active << "  " << varied_text(cell)
              << "\n";
  }
  std::cout << "total: " << cells.size() << " cells, " << total_tokens << " training tokens\n";
}

int print_status(const std::vector<StudyCell>& cells) {
  std::cout << std::left << std::setw(48) << "cell" << std::setw(10) << "state" << std::right << std::setw(12)
            << "step" << std::setw(10) << "val ppl" << std::setw(10) << "best" << std::setw(10) << "CV"
            << std::setw(10) << "tok/s" << "\n";
  std::map<std::string, int> totals;
  for (const auto& cell : cells) {
    const auto s = read_cell_status(cell);
    ++totals[s.state];
    std::cout << std::left << std::setw(48) << cell.name << std::setw(10) << s.state << std::right << std::setw(12)
              << (std::to_string(s.step) + "/" + std::to_string(s.max_steps)) << std::fixed << std::setprecision(2)
              << std::setw(10) << s.last_val_ppl << std::setw(10) << s.best_val_ppl << std::setprecision(3)
              << std::setw(10) << s.expert_cv << std::setprecision(0) << std::setw(10) << s.tokens_per_s << "\n";
    if (!s.error.empty()) std::cout << "    error: " << s.error << "\n";
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

}  // namespace

int main(int argc, char** argv) {
  const char* usage = "usage: kmoe-study plan|run|status STUDY.toml [--jobs N]\n";
  if (argc < 3) {
    std::cerr << usage;
    return 2;
  }
  const std::string command = argv[1], path = argv[2];
  StudyRunOptions options;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) {
      options.jobs = std::atoi(argv[++i]);
    } else {
      std::cerr << "kmoe-study: unexpected argument '" << argv[i] << "'\n" << usage;
      return 2;
    }
  }
  if (options.jobs < 1 || (command != "plan" && command != "run" && command != "status")) {
    std::cerr << usage;
    return 2;
  }
  setenv("OMP_PROC_BIND", "false", 0);
  Kokkos::initialize(argc, argv);
  int status = 1;
  try {
    const auto study = load_study_deck(path);
    const auto cells = expand_study(study);
    if (command == "plan") {
      print_plan(study, cells);
      status = 0;
    } else if (command == "status") {
      status = print_status(cells);
    } else {
      options.kmoe_train = sibling_program("kmoe-train");
      status = run_study(study, cells, options, std::cout);
      print_status(cells);
    }
  } catch (const std::exception& err) {
    std::cout.flush();
    std::cerr << "kmoe-study: " << err.what() << "\n";
    status = 1;
  }
  Kokkos::finalize();
  return status;
}
