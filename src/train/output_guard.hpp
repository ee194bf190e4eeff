// Before a run touches anything: its outputs (record, .partial, checkpoint, weights and their
// locks) must be distinct files, none of them one of the run's inputs (corpus, shards, initial
// weights), and a file already at an output path must be one kmoe wrote (an HDF5 file or a kmoe
// checkpoint): kmoe replaces or removes only its own files.
#pragma once

#include "io/run_deck.hpp"
#include "train/run_paths.hpp"

namespace kmoe {

// Throws kmoe::Error naming the files and the deck keys that make them coincide.
void check_outputs(const RunDeck& deck, const RunPaths& paths);

}  // namespace kmoe
