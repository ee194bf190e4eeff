// Where a run's files live: <run.output_dir>/<run.name>{.h5,.ckpt,.weights.h5}.
#pragma once

#include "io/run_deck.hpp"

#include <string>

namespace kmoe {

struct RunPaths {
  std::string record, checkpoint, weights;
};

inline RunPaths run_paths(const RunDeck& deck) {
  const std::string base = deck.run.output_dir + "/" + deck.run.name;
  return RunPaths{deck.output.hdf5.empty() ? base + ".h5" : deck.output.hdf5, base + ".ckpt", base + ".weights.h5"};
}

}  // namespace kmoe
