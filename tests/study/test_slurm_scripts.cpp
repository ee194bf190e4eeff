// The Slurm scripts of a study.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "study/slurm_scripts.hpp"
#include "study/study_deck.hpp"
#include "study_files.hpp"

using namespace kmoe;
using namespace kmoe::testing;

namespace {

TEST(SlurmScripts, APreparationJobThenOneArrayPerStageThatRequeuesStoppedCells) {
  const auto study = load_study_deck(write_study(
      "slurm",
      kStaged +
          "[[stages]]\nname = \"screen\"\nuntil_step = 20\n[[stages]]\nname = \"confirm\"\npromote = { top = 1 }\n"
          "[slurm]\npartition = \"gpu\"\ntime = \"02:00:00\"\ngpus_per_task = 1\ncpus_per_task = 8\nmax_parallel = "
          "3\n"));
  const auto scripts = slurm_scripts(study, 4, "/opt/kmoe/kmoe-study", "/home/u/study.toml");
  ASSERT_EQ(scripts.size(), 3u);
  EXPECT_EQ(std::filesystem::path(scripts[0].path).filename(), "prepare.sbatch");
  EXPECT_NE(scripts[0].text.find("exec '/opt/kmoe/kmoe-study' prepare '/home/u/study.toml'"), std::string::npos);
  EXPECT_EQ(scripts[0].text.find("--gpus-per-task"), std::string::npos);  // preparing needs no GPU
  EXPECT_EQ(scripts[1].depends, "afterok");
  EXPECT_EQ(scripts[2].depends, "afterany");
  const std::string& confirm = scripts[2].text;
  EXPECT_EQ(std::filesystem::path(scripts[2].path).filename(), "stage-1-confirm.sbatch");
  for (const char* line :
       {"#SBATCH --array=0-3%3\n", "#SBATCH --requeue\n", "#SBATCH --signal=TERM@120\n", "#SBATCH --partition=gpu\n",
        "#SBATCH --time=02:00:00\n", "#SBATCH --gpus-per-task=1\n", "#SBATCH --cpus-per-task=8\n",
        "srun --ntasks=1 '/opt/kmoe/kmoe-study' cell '/home/u/study.toml' --stage 1 --index \"$SLURM_ARRAY_TASK_ID\"\n",
        "if [ \"$code\" -eq 75 ]; then\n", "scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n",
        "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}"}) {
    EXPECT_NE(confirm.find(line), std::string::npos) << line;
  }
  EXPECT_EQ(confirm.rfind("#!/bin/bash\n", 0), 0u);
}

// A cell of several ranks: the array task asks for them, and the cell starts them itself (once)
// with srun --mpi=pmix, so the task's script runs kmoe-study cell outside srun.
TEST(SlurmScripts, ACellOfSeveralRanksAsksForThemAndStartsThemOnce) {
  const auto study =
      load_study_deck(write_study("ranks", kStaged + "[slurm]\nranks_per_cell = 4\ngpus_per_task = 1\n"));
  const auto scripts = slurm_scripts(study, 2, "/opt/kmoe/kmoe-study", "/home/u/study.toml");
  const std::string& screen = scripts[1].text;
  EXPECT_NE(screen.find("#SBATCH --ntasks=4\n"), std::string::npos);
  EXPECT_NE(screen.find("#SBATCH --gpus-per-task=1\n"), std::string::npos);
  EXPECT_NE(screen.find("\n'/opt/kmoe/kmoe-study' cell '/home/u/study.toml' --stage 0"), std::string::npos) << screen;
  EXPECT_EQ(screen.find("srun"), std::string::npos);
  EXPECT_NE(scripts[0].text.find("#SBATCH --ntasks=1\n"), std::string::npos);  // preparing is one task
}

}  // namespace
