// kmoe-train DECK.toml [--set section.key=value ...] [--resume | --overwrite] [--until-step N]
// Trains one run described by the deck and writes its HDF5 record. Exit codes: 0 complete
// (or stopped as asked at --until-step), 1 failed (bad input, non-finite values, a full
// disk), 75 stopped by SIGTERM/SIGINT after checkpointing (continue with --resume), 2 usage.
#include <iostream>

#include "command_line.hpp"
#include "core/communicator.hpp"
#include "core/error.hpp"
#include "core/kokkos_session.hpp"
#include "train/trainer.hpp"

int main(int argc, char** argv) {
  kmoe::TrainerRequest request;
  std::string deck_path;
  CLI::App app{
      "Trains one run described by a deck and writes its HDF5 record.\nExit codes: 0 complete (or stopped at "
      "--until-step), 1 failed, 2 usage, 75 stopped by a signal after a checkpoint (continue with --resume).",
      "kmoe-train"};
  app.add_option("deck", deck_path, "the run deck")->required()->type_name("DECK.toml");
  kmoe::add_overrides(app, request.overrides);
  auto* resume = app.add_flag("--resume", request.resume,
                              "continue from the run's checkpoint (starts at step 0 when there is none)");
  app.add_flag("--overwrite", request.overwrite,
               "start over, deleting the run's earlier record, checkpoint and weights")
      ->excludes(resume);
  app.add_option("--until-step", request.until_step,
                 "stop cleanly after update N (evaluated and checkpointed; the schedule stays that of "
                 "train.max_steps); continue later with --resume")
      ->type_name("N")
      ->check(kmoe::whole_number(1));
  app.add_flag("--replicate-optimizer", request.replicate_optimizer,
               "on several MPI ranks, update every tensor on every rank instead of each rank its own "
               "(the same result; a benchmark's baseline)");
  if (const auto code = kmoe::parse_command_line(app, argc, argv)) return *code;

  const kmoe::MpiSession mpi(argc, argv);  // before Kokkos, which then sees MPI's CPU binding
  const kmoe::KokkosSession kokkos(argc, argv);
  int status = kmoe::kExitFailed;
  try {
    request.deck = kmoe::load_run_deck(deck_path, request.overrides);
    status = kmoe::run_training(request, std::cout);
  } catch (const std::exception& err) {
    std::cout.flush();
    std::cerr << "\nkmoe-train: " << err.what() << "\n";
    status = kmoe::kExitFailed;
  }
  std::cout.flush();
  return status;
}
