// The Slurm route of a study: a data-preparation job and one job array per stage (one array
// task per cell). Each task runs `kmoe-study cell` under srun, which execs kmoe-train for
// that cell and stage; SIGTERM (sent --signal seconds before the time limit, or by
// `scancel --signal=TERM`) reaches kmoe-train, which checkpoints and exits 75, and the task
// requeues itself so the cell resumes. Stage k's array starts after stage k−1's (afterany),
// stage 0's after the preparation job (afterok). A study with [replicate] ends with a round job
// (afterany) that decides whether to add seeds and, if so, submits the study again.
#pragma once

#include <string>
#include <vector>

#include "study/study_deck.hpp"

namespace kmoe {

struct SlurmJobScript {
  std::string path;  // <output_dir>/slurm/<file>.sbatch
  std::string text;
  std::string depends;  // "afterok" / "afterany" on the previous script's job ("" for the first)
};

constexpr int kSlurmSignalSeconds = 120;  // warning before the time limit, time to checkpoint

// kmoe_study and study_path must be absolute (the jobs run from the submit directory).
std::vector<SlurmJobScript> slurm_scripts(const StudyDeck& study, size_t cell_count, const std::string& kmoe_study,
                                          const std::string& study_path);

// Writes the scripts; with `submit`, runs sbatch for each with its dependency and returns the
// job ids (empty without submit). Throws kmoe::Error with sbatch's message on failure.
std::vector<std::string> write_and_submit(const std::vector<SlurmJobScript>& scripts, bool submit);

}  // namespace kmoe
