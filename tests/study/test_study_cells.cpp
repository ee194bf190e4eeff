// What `kmoe-study run` and an array task do with each cell, from records written here:
// complete and failed cells are left alone, a cell at the stage's end waits for the next
// stage, a stopped or new one resumes (with --until-step inside a stage), a pruned one stops.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "study/stage_gate.hpp"
#include "study/study_runner.hpp"
#include "train/deck_settings.hpp"
#include "train/run_paths.hpp"
#include "train/run_record.hpp"

using namespace kmoe;

namespace {

struct Fixture {
  StudyDeck study;
  std::vector<StudyCell> cells;
};

Fixture staged_study(const std::string& name) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / ("kmoe_cells_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "base.toml") << "[model]\nffn = \"dense\"\nd_model = 16\nn_heads = 2\n[train]\nmax_steps = 12\n";
  std::ofstream(dir / "study.toml") << "[study]\nname = \"s\"\nbase = \"base.toml\"\noutput_dir = "
                                       "\"out\"\n[grid.model]\ndropout = [0.0, 0.1, 0.2, 0.3, 0.4]\n"
                                       "[[stages]]\nname = \"screen\"\nuntil_step = 6\n[[stages]]\nname = \"rest\"\n";
  Fixture f;
  f.study = load_study_deck((dir / "study.toml").string());
  f.cells = expand_study(f.study);
  std::filesystem::create_directories(f.study.output_dir + "/runs");
  return f;
}

void write_record(const StudyCell& cell, const std::string& status, int64_t steps) {
  RunRecord record(model_config_from_deck(cell.deck));
  for (int64_t s = 1; s <= steps; ++s) {
    TrainRow row;
    row.step = s;
    record.append_step(row, ForwardResult{});
  }
  record.set_attribute("status", status);
  record.save(run_paths(cell.deck).record, "record");
}

std::vector<std::string> arguments(const Fixture& f, size_t cell, size_t stage, std::string& why_not) {
  const CellPlan plan = plan_cell(f.study, f.cells[cell], stage);
  why_not = plan.why_not;
  return plan.args;
}

}  // namespace

TEST(StudyCells, EachStateGetsItsOwnNextStep) {
  const auto f = staged_study("states");
  write_record(f.cells[0], "complete", 12);
  write_record(f.cells[1], "failed", 3);
  write_record(f.cells[2], "stopped", 6);  // at the end of stage "screen"
  write_record(f.cells[3], "stopped", 4);  // killed or signalled inside it
  std::string why;
  EXPECT_TRUE(arguments(f, 0, 0, why).empty());
  EXPECT_EQ(why, "complete");
  EXPECT_TRUE(arguments(f, 1, 0, why).empty());
  EXPECT_EQ(why, "failed");
  EXPECT_TRUE(arguments(f, 2, 0, why).empty());
  EXPECT_NE(why.find("at the end of stage screen"), std::string::npos) << why;
  const std::vector<std::string> resume_in_stage = {f.study.output_dir + "/decks/" + f.cells[3].name + ".toml",
                                                    "--resume", "--until-step", "6"};
  EXPECT_EQ(arguments(f, 3, 0, why), resume_in_stage);
  EXPECT_EQ(arguments(f, 4, 0, why).size(), 4u);    // no record yet: starts, cut at 6
  const auto last_stage = arguments(f, 2, 1, why);  // the next stage runs to max_steps
  ASSERT_EQ(last_stage.size(), 2u);
  EXPECT_EQ(last_stage[1], "--resume");
}

TEST(StudyCells, APrunedConditionIsNotContinued) {
  auto f = staged_study("pruned");
  f.study.stages[1].has_promote = true;
  f.study.stages[1].promote.top = 1;
  GateRecord gate;
  gate.stage = "rest";
  gate.at_step = 6;
  for (size_t i = 0; i < f.cells.size(); ++i) {
    GateDecision d;
    d.condition = f.cells[i].condition;
    d.promoted = i == 0;
    d.reason = i == 0 ? "rank 1 of 5" : "rank > 1";
    gate.decisions.push_back(d);
  }
  write_gate_file(gate_file(f.study, f.study.stages[1]), gate);
  write_record(f.cells[1], "stopped", 6);
  std::string why;
  EXPECT_TRUE(arguments(f, 1, 1, why).empty());
  EXPECT_EQ(why, "pruned at the gate into stage rest");
  EXPECT_EQ(study_cell_state(f.study, f.cells[1], read_cell_status(f.cells[1])), RunState::pruned);
  write_record(f.cells[2], "failed", 3);  // a failure of its own stays one when its condition is pruned
  EXPECT_EQ(study_cell_state(f.study, f.cells[2], read_cell_status(f.cells[2])), RunState::failed);
  EXPECT_FALSE(arguments(f, 0, 1, why).empty());  // promoted, no record yet
}

TEST(RunStates, EachStateHasOneSpellingThatReadsBack) {
  for (const RunState s : {RunState::pending, RunState::running, RunState::stopped, RunState::complete,
                           RunState::failed, RunState::pruned, RunState::unreadable}) {
    EXPECT_EQ(run_state_from(to_string(s)), s);
  }
  EXPECT_EQ(run_state_from("Complete"), std::nullopt);
}
