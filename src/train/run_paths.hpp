// Where a run's files live: <run.output_dir>/<run.name>{.h5,.ckpt,.weights.h5}; the record
// is "<record>.partial" while the run is in progress, and each file is guarded by a lock.
#pragma once

#include <string>
#include <vector>

#include "io/run_deck.hpp"

namespace kmoe {

struct RunPaths {
  std::string record, partial, checkpoint, weights;
  std::vector<std::string> locks;  // "<each>.lock" is flock'ed while the run lives
};

inline RunPaths run_paths(const RunDeck& deck) {
  const std::string base = deck.run.output_dir + "/" + deck.run.name;
  const std::string record = deck.output.hdf5.empty() ? base + ".h5" : deck.output.hdf5;
  std::vector<std::string> locks{base};
  if (!deck.output.hdf5.empty()) locks.push_back(record);
  return RunPaths{record, record + ".partial", base + ".ckpt", base + ".weights.h5", locks};
}

}  // namespace kmoe
