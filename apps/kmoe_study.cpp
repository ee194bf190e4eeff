// kmoe-study plan|run|status|slurm|prepare|cell STUDY.toml [options]
// plan: the cells as a table, nothing written. run [--jobs N]: every pending cell as a
// kmoe-train process, N at a time, stage by stage with the gates between; complete cells are
// skipped, stopped ones resumed; SIGTERM/SIGINT stop them all with a checkpoint (exit 75) and
// the same command continues. status: one row per cell from its record. slurm [--submit]: the
// preparation job and one job array per stage. prepare and cell --stage K --index I: what
// those jobs run (cell execs kmoe-train for one cell and stage). With [replicate], run adds
// seeds round by round; replicate decides one round (what the Slurm round job runs) and, when it
// adds seeds, submits the study again.
#include <filesystem>
#include <iostream>

#include "command_line.hpp"
#include "core/error.hpp"
#include "core/kokkos_session.hpp"
#include "study/cell_launch.hpp"
#include "study/replication.hpp"
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
  CLI::App app{"Runs a study: a grid of run decks, stage by stage, locally or as Slurm job arrays.", "kmoe-study"};
  app.require_subcommand(1);
  std::string path;
  StudyRunOptions options;
  bool submit = false;
  int stage = -1, index = -1;
  const auto subcommand = [&](const char* name, const char* what) {
    auto* sub = app.add_subcommand(name, what);
    sub->add_option("study", path, "the study deck")->required()->type_name("STUDY.toml");
    return sub;
  };
  auto* plan = subcommand("plan", "the cells as a table; nothing is written");
  auto* run = subcommand("run",
                         "every pending cell as a kmoe-train process, stage by stage with the gates between; complete "
                         "cells are skipped, stopped ones resumed; SIGTERM/SIGINT stop them all with a checkpoint "
                         "(exit 75) and the same command continues");
  run->add_option("--jobs", options.jobs, "cells at a time")->check(kmoe::whole_number(1));
  run->add_option("--ranks-per-cell", options.ranks_per_cell,
                  "MPI ranks of each cell (mpirun -np N kmoe-train; a power of two dividing train.grad_accum)")
      ->check(kmoe::whole_number(1));
  run->add_option("--gpus", options.gpus,
                  "devices of this node, e.g. 0,1,2,3: one cell on each at a time (it sees only that device)")
      ->delimiter(',')
      ->excludes("--jobs")
      ->check(CLI::NonNegativeNumber);
  run->add_flag("--rerun-changed", options.rerun_changed, "run again the cells whose deck changed since their record");
  auto* status_command = subcommand("status", "one row per cell from its record");
  auto* slurm = subcommand("slurm", "the preparation job and one job array per stage");
  slurm->add_flag("--submit", submit, "submit them with sbatch, each depending on the one before");
  auto* prepare = subcommand("prepare", "prepare every cell's data (what the Slurm preparation job runs)");
  auto* cell = subcommand("cell", "run one cell of one stage (what a Slurm array task runs)");
  auto* replicate = subcommand("replicate",
                               "decide a [replicate] round from the cells' records and, when it adds seeds, submit "
                               "the study to Slurm again (what the Slurm round job runs)");
  cell->add_option("--stage", stage, "the stage")->required()->check(kmoe::whole_number(0));
  cell->add_option("--index", index, "the cell")->required()->check(kmoe::whole_number(0));
  if (const auto code = kmoe::parse_command_line(app, argc, argv)) return *code;

  const kmoe::KokkosSession kokkos(argc, argv);
  int status = kmoe::kExitFailed;
  try {
    auto study = with_replicated_seeds(load_study_deck(path));
    auto cells = expand_study(study);
    check_promote_rules(study, cells);
    check_replicate_rule(study, cells);
    if (plan->parsed()) {
      print_plan(study, cells, std::cout);
      status = kmoe::kExitComplete;
    } else if (status_command->parsed()) {
      status = print_status(study, cells, std::cout);
    } else if (slurm->parsed()) {
      check_ranks_per_cell(cells, int(study.slurm.ranks_per_cell), study.source + ": slurm.ranks_per_cell");
      status = write_slurm(study, cells, path, submit);
    } else if (prepare->parsed()) {
      if (const auto changed = changed_cells(study, cells); !changed.empty()) {
        throw Error(changed_cells_message(study, changed));
      }
      prepare_study(study, cells, std::cout);
      status = kmoe::kExitComplete;
    } else if (cell->parsed()) {
      status = run_one_cell(study, cells, index, stage);
    } else if (replicate->parsed()) {
      kmoe::require(study.replicate.has_value(), path + ": the study has no [replicate] table");
      const auto round = replication_round(study, cells);
      write_study_files(study, cells);
      std::cout << "study: " << describe(round, *study.replicate) << std::endl;
      if (!round.added.empty()) {
        study = with_replicated_seeds(load_study_deck(path));
        status = write_slurm(study, expand_study(study), path, true);
      } else {
        status = kmoe::kExitComplete;
      }
    } else if (run->parsed()) {
      options.kmoe_train = sibling_program("kmoe-train");
      check_ranks_per_cell(cells, options.ranks_per_cell, "--ranks-per-cell");
      kmoe::require(options.gpus.empty() || options.ranks_per_cell == 1,
                    "--gpus gives each cell one device; with --ranks-per-cell > 1 its ranks would share it");
      // With [replicate]: after each round's cells, its decision; added seeds are the next round.
      for (bool more = true; more;) {
        status = run_study(study, cells, options, std::cout);
        more = false;
        if (status == kmoe::kExitComplete && study.replicate) {
          const auto round = replication_round(study, cells);
          write_study_files(study, cells);  // the manifest lists the round
          std::cout << "study: " << describe(round, *study.replicate) << std::endl;
          if ((more = !round.added.empty())) {
            study = with_replicated_seeds(load_study_deck(path));
            cells = expand_study(study);
            check_ranks_per_cell(cells, options.ranks_per_cell, "--ranks-per-cell");
          }
        }
      }
      print_status(study, cells, std::cout);
    }
  } catch (const std::exception& err) {
    std::cout.flush();
    std::cerr << "kmoe-study: " << err.what() << "\n";
    status = kmoe::kExitFailed;
  }
  return status;
}
