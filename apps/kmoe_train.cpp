// kmoe-train DECK.toml [--set section.key=value ...] [--resume | --overwrite] [--until-step N]
// Trains one run described by the deck and writes its HDF5 record. Exit codes: 0 complete
// (or stopped as asked at --until-step), 1 failed (bad input, non-finite values, a full
// disk), 75 stopped by SIGTERM/SIGINT after checkpointing (continue with --resume), 2 usage.
#include <Kokkos_Core.hpp>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "core/error.hpp"
#include "train/trainer.hpp"

int main(int argc, char** argv) {
  setenv("OMP_PROC_BIND", "false", 0);  // OpenBLAS + Kokkos threads share the cores unpinned
  Kokkos::initialize(argc, argv);
  int status = kmoe::kExitFailed;
  {
    kmoe::TrainerRequest request;
    std::string deck_path;
    bool usage_error = false;
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
        request.overrides.push_back(argv[++i]);
      } else if (std::strcmp(argv[i], "--resume") == 0) {
        request.resume = true;
      } else if (std::strcmp(argv[i], "--overwrite") == 0) {
        request.overwrite = true;
      } else if (std::strcmp(argv[i], "--until-step") == 0 && i + 1 < argc) {
        char* end = nullptr;
        request.until_step = std::strtoll(argv[++i], &end, 10);
        usage_error = usage_error || *end != '\0' || request.until_step < 1;
      } else if (deck_path.empty() && argv[i][0] != '-') {
        deck_path = argv[i];
      } else {
        usage_error = true;
      }
    }
    if (usage_error || deck_path.empty() || (request.resume && request.overwrite)) {
      std::cerr
          << "usage: kmoe-train DECK.toml [--set section.key=value ...] [--resume | --overwrite] [--until-step N]\n"
             "  --resume        continue from the run's checkpoint (starts at step 0 when there is none)\n"
             "  --overwrite     start over, deleting the run's earlier record, checkpoint and weights\n"
             "  --until-step N  stop cleanly after update N (evaluated and checkpointed; the schedule\n"
             "                  stays that of train.max_steps), continue later with --resume\n";
      status = 2;
    } else {
      try {
        request.deck = kmoe::load_run_deck(deck_path, request.overrides);
        status = kmoe::run_training(request, std::cout);
      } catch (const std::exception& err) {
        std::cout.flush();
        std::cerr << "\nkmoe-train: " << err.what() << "\n";
        status = kmoe::kExitFailed;
      }
    }
  }
  std::cout.flush();
  Kokkos::finalize();
  return status;
}
