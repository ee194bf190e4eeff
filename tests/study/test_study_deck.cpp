// Study decks: expansion (count, names, values, explicit cells, seeds), stages, and validation
// errors that name the study file, the cell and the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "study/study_deck.hpp"
#include "study_files.hpp"

using namespace kmoe;
using namespace kmoe::testing;

namespace {

std::string expansion_error(const std::string& name, const std::string& text) {
  try {
    expand_study(load_study_deck(write_study(name, text)));
  } catch (const Error& err) {
    return err.what();
  }
  return "";
}

TEST(StudyDeck, GridTimesSeedsGivesEveryCellOnceWithReadableNames) {
  const auto study = load_study_deck(write_study(
      "grid",
      "[study]\nname = \"noise-lb\"\nbase = \"decks/base.toml\"\noutput_dir = \"out\"\nseeds = [42, 43, 44]\n"
      "[grid.moe]\nnoise_std = [0.0, 0.1, 0.5]\nload_balancing_weight = [0.01, 0.0]\n"
      "[set.train]\nmax_steps = 400\n"));
  const auto cells = expand_study(study);
  ASSERT_EQ(cells.size(), 18u);
  EXPECT_EQ(cells[0].name, "noise_std=0.0,load_balancing_weight=0.01,seed=42");
  EXPECT_EQ(cells[4].name, "noise_std=0.0,load_balancing_weight=0.0,seed=43");
  EXPECT_EQ(cells[17].name, "noise_std=0.5,load_balancing_weight=0.0,seed=44");
  EXPECT_DOUBLE_EQ(cells[17].deck.moe.noise_std, 0.5);
  EXPECT_DOUBLE_EQ(cells[17].deck.moe.load_balancing_weight, 0.0);
  EXPECT_EQ(cells[17].deck.run.seed, 44);
  EXPECT_EQ(cells[17].deck.run.name, cells[17].name);
  EXPECT_EQ(cells[5].deck.train.max_steps, 400);                             // [set.*] applies to every cell
  EXPECT_EQ(cells[5].deck.model.d_model, 32);                                // the base deck underneath
  EXPECT_EQ(cells[0].deck.data.split_seed, cells[17].deck.data.split_seed);  // identical data
  EXPECT_EQ(std::filesystem::path(study.output_dir).filename(), "out");
  EXPECT_EQ(cells[0].deck.run.output_dir, study.output_dir + "/runs");
  ASSERT_EQ(cells[4].varied.size(), 3u);
  EXPECT_EQ(cells[4].varied[2], (std::pair<std::string, std::string>{"run.seed", "43"}));
}

TEST(StudyDeck, ExplicitCellsComeAfterTheGridOncePerSeed) {
  const auto cells = expand_study(load_study_deck(write_study(
      "explicit",
      "[study]\nname = \"z\"\nbase = \"decks/base.toml\"\noutput_dir = \"out\"\nseeds = [1, 2]\n"
      "[grid.moe]\nz_loss_weight = [0.0]\n"
      "[[cells]]\nname = \"zloss-1e-3\"\nset = { \"moe.z_loss_weight\" = 0.001, \"moe.noise_std\" = 0.0 }\n")));
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(cells[2].name, "zloss-1e-3,seed=1");
  EXPECT_DOUBLE_EQ(cells[3].deck.moe.z_loss_weight, 0.001);
  EXPECT_DOUBLE_EQ(cells[3].deck.moe.noise_std, 0.0);
  EXPECT_EQ(cells[3].deck.run.seed, 2);
}

TEST(StudyDeckErrors, AGridKeyTypoNamesTheFileTheCellAndTheKey) {
  const std::string message = expansion_error(
      "typo",
      "[study]\nname = \"t\"\nbase = \"decks/base.toml\"\noutput_dir = \"out\"\n[grid.moe]\nnoise_stdd = [0.1, 0.2]\n");
  EXPECT_NE(message.find("study.toml"), std::string::npos) << message;
  EXPECT_NE(message.find("cell 'noise_stdd=0.1'"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'moe.noise_std'"), std::string::npos) << message;
}

TEST(StudyDeckErrors, WrongTypesAndInvalidCombinationsAreRejected) {
  const std::string head = "[study]\nname = \"t\"\nbase = \"decks/base.toml\"\noutput_dir = \"out\"\n";
  EXPECT_NE(expansion_error("type", head + "[grid.moe]\nnoise_std = [\"high\", 0.1]\n").find("moe.noise_std"),
            std::string::npos);
  const std::string combination = expansion_error("topk", head + "[grid.moe]\ntop_k = [2, 9]\n");
  EXPECT_NE(combination.find("cell 'top_k=9'"), std::string::npos) << combination;
  EXPECT_NE(combination.find("moe.num_experts"), std::string::npos) << combination;
  EXPECT_NE(expansion_error("unknown", head + "[grid.moe]\nnoise_std = [0.1]\n[studies]\nx = 1\n")
                .find("unknown key 'studies'"),
            std::string::npos);
  EXPECT_NE(expansion_error("empty", head + "[grid.moe]\nnoise_std = []\n").find("non-empty list"), std::string::npos);
  EXPECT_NE(expansion_error("one", head).find("one cell"), std::string::npos);
  EXPECT_NE(
      expansion_error("base", "[study]\nname = \"t\"\nbase = \"missing.toml\"\noutput_dir = \"o\"\nseeds = [1, 2]\n")
          .find("missing.toml"),
      std::string::npos);
}

TEST(StudyStages, StagesAndTheirPromoteRulesAreRead) {
  const auto study = load_study_deck(write_study(
      "stages",
      kStaged +
          "[[stages]]\nname = \"screen\"\nuntil_step = 20\n"
          "[[stages]]\nname = \"confirm\"\npromote = { reference = \"load_balancing_weight=0.01\", better_by = 0.05, "
          "or_balance_within = 0.01 }\n"
          "[slurm]\npartition = \"gpu\"\ntime = \"02:00:00\"\ngpus_per_task = 1\ncpus_per_task = 8\nmax_parallel = "
          "8\n"));
  ASSERT_EQ(study.stages.size(), 2u);
  EXPECT_EQ(study.stages[0].until_step, 20);
  EXPECT_FALSE(study.stages[0].has_promote);
  EXPECT_EQ(study.stages[1].until_step, 0);  // to max_steps
  ASSERT_TRUE(study.stages[1].has_promote);
  EXPECT_EQ(study.stages[1].promote.reference, "load_balancing_weight=0.01");
  EXPECT_DOUBLE_EQ(study.stages[1].promote.better_by, 0.05);
  EXPECT_DOUBLE_EQ(study.stages[1].promote.or_balance_within, 0.01);
  EXPECT_EQ(study.slurm.partition, "gpu");
  EXPECT_EQ(study.slurm.max_parallel, 8);
  EXPECT_EQ(expand_study(study)[3].condition, "load_balancing_weight=0.0");
}

TEST(StudyStages, BadStagesAreRefusedWithTheStageNamed) {
  const auto error = [](const std::string& name, const std::string& stages) {
    return expansion_error(name, kStaged + stages);
  };
  EXPECT_NE(error("first", "[[stages]]\nname = \"a\"\nuntil_step = 10\npromote = { top = 1 }\n")
                .find("the first stage has nothing before it"),
            std::string::npos);
  EXPECT_NE(error("order", "[[stages]]\nname = \"a\"\nuntil_step = 20\n[[stages]]\nname = \"b\"\nuntil_step = 10\n")
                .find("stage 'b': until_step must be after the previous stage's (20)"),
            std::string::npos);
  EXPECT_NE(error("late", "[[stages]]\nname = \"a\"\nuntil_step = 60\n").find("after the cell's train.max_steps 50"),
            std::string::npos);
  EXPECT_NE(error("both",
                  "[[stages]]\nname = \"a\"\nuntil_step = 10\n[[stages]]\nname = \"b\"\n"
                  "promote = { top = 1, better_by = 0.1 }\n")
                .find("go with reference"),
            std::string::npos);
  EXPECT_NE(error("neither",
                  "[[stages]]\nname = \"a\"\nuntil_step = 10\n[[stages]]\nname = \"b\"\n"
                  "promote = { better_by = 0.1 }\n")
                .find("either reference"),
            std::string::npos);
  EXPECT_NE(error("typo", "[[stages]]\nname = \"a\"\nuntil_stepp = 10\n").find("unknown key 'until_stepp'"),
            std::string::npos);
  EXPECT_NE(error("slurm", "[slurm]\npartition = \"gpu; rm -rf\"\n").find("must be one word"), std::string::npos);
}

}  // namespace
