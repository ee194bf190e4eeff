#include "study/replication.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>

#include "core/error.hpp"
#include "io/atomic_file.hpp"
#include "io/deck_schema.hpp"
#include "io/hdf5_reader.hpp"
#include "study/cell_status.hpp"
#include "study/student_t.hpp"
#include "train/run_paths.hpp"

namespace kmoe {
namespace fs = std::filesystem;

namespace {
std::string seed_list(const std::vector<int64_t>& seeds) {
  std::string out;
  for (const int64_t s : seeds) out += (out.empty() ? "" : ", ") + std::to_string(s);
  return out;
}

// The cell's final value of `metric`, if its run completed.
std::optional<double> final_value(const StudyCell& cell, const std::string& metric) {
  if (read_cell_status(cell).state != RunState::complete) return std::nullopt;
  const Hdf5Reader record(run_paths(cell.deck).record);
  if (!record.has("/final/" + metric)) return std::nullopt;
  return record.read<double>("/final/" + metric).at(0);
}

// t(0.975, n − 1) · sd / √n of the differences; infinite below two.
double halfwidth(const std::vector<double>& d) {
  const size_t n = d.size();
  if (n < 2) return std::numeric_limits<double>::infinity();
  double mean = 0, squares = 0;
  for (const double x : d) mean += x / double(n);
  for (const double x : d) squares += (x - mean) * (x - mean);
  return student_t_quantile(0.975, double(n - 1)) * std::sqrt(squares / double(n - 1) / double(n));
}

void write_rounds(const StudyDeck& study, const std::vector<ReplicationRound>& rounds) {
  fs::create_directories(study.output_dir);
  write_file_atomically(
      replication_file(study),
      "# kmoe study replication rounds ([replicate]): each round's seeds, half-widths and decision\n" +
          replication_rounds_toml(rounds, "rounds"),
      "replication rounds");
}
}  // namespace

std::string replication_rounds_toml(const std::vector<ReplicationRound>& rounds, const std::string& table) {
  std::ostringstream out;
  for (const auto& r : rounds) {
    out << "\n[[" << table << "]]\nround = " << r.round << "\nseeds = [" << seed_list(r.seeds)
        << "]\nwidest = " << (std::isfinite(r.widest) ? float_text(r.widest) : "inf")
        << "\ndecision = " << toml_string(r.decision) << "\nadded = [" << seed_list(r.added) << "]\n";
    for (const auto& [condition, width] : r.halfwidths) {
      out << "halfwidth." << toml_string(condition) << " = " << (std::isfinite(width) ? float_text(width) : "inf")
          << "\n";
    }
  }
  return out.str();
}

std::string replication_file(const StudyDeck& study) { return study.output_dir + "/replicate.toml"; }

std::vector<ReplicationRound> read_replication_rounds(const StudyDeck& study) {
  const std::string path = replication_file(study);
  std::vector<ReplicationRound> rounds;
  if (!fs::exists(path)) return rounds;
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& err) {
    throw Error(path + ": unreadable replication rounds: " + std::string(err.description()));
  }
  if (const auto* list = root["rounds"].as_array()) {
    for (const auto& node : *list) {
      const auto& t = *node.as_table();
      ReplicationRound r;
      r.round = t["round"].value_or(int64_t(0));
      r.decision = t["decision"].value_or(std::string());
      r.widest = t["widest"].value_or(std::numeric_limits<double>::infinity());
      for (const char* key : {"seeds", "added"}) {
        if (const auto* seeds = t[key].as_array()) {
          for (const auto& s : *seeds)
            (std::string(key) == "seeds" ? r.seeds : r.added).push_back(s.value_or(int64_t(0)));
        }
      }
      if (const auto* widths = t["halfwidth"].as_table()) {
        for (const auto& [condition, width] : *widths) {
          r.halfwidths.emplace_back(std::string(condition.str()),
                                    width.value_or(std::numeric_limits<double>::infinity()));
        }
      }
      rounds.push_back(r);
    }
  }
  return rounds;
}

StudyDeck with_replicated_seeds(StudyDeck study) {
  if (!study.replicate) return study;
  for (const auto& r : read_replication_rounds(study)) {
    for (const int64_t seed : r.added) {
      if (std::find(study.seeds.begin(), study.seeds.end(), seed) == study.seeds.end()) study.seeds.push_back(seed);
    }
  }
  return study;
}

void check_replicate_rule(const StudyDeck& study, const std::vector<StudyCell>& cells) {
  if (!study.replicate || study.replicate->reference.empty()) return;
  std::vector<std::string> conditions;
  for (const auto& cell : cells) {
    if (cell.condition == study.replicate->reference) return;
    if (std::find(conditions.begin(), conditions.end(), cell.condition) == conditions.end())
      conditions.push_back(cell.condition);
  }
  std::string names;
  for (const auto& c : conditions) names += "\n  " + c;
  throw Error(study.source + ": key 'replicate.reference' names \"" + study.replicate->reference +
              "\", which is not a condition of the study; the conditions are:" + names);
}

ReplicationRound replication_round(const StudyDeck& study, const std::vector<StudyCell>& cells) {
  const ReplicateRule& rule = *study.replicate;
  auto rounds = read_replication_rounds(study);
  if (!rounds.empty() && rounds.back().seeds == study.seeds) return rounds.back();
  std::vector<std::string> conditions;
  std::map<std::string, std::map<std::string, double>> values;  // condition -> seed -> value
  for (const auto& cell : cells) {
    if (std::find(conditions.begin(), conditions.end(), cell.condition) == conditions.end())
      conditions.push_back(cell.condition);
    const auto seed =
        std::find_if(cell.varied.begin(), cell.varied.end(), [](auto& kv) { return kv.first == "run.seed"; });
    if (const auto v = final_value(cell, rule.metric); v && seed != cell.varied.end())
      values[cell.condition][seed->second] = *v;
  }
  check_replicate_rule(study, cells);
  const std::string reference = rule.reference.empty() ? conditions.front() : rule.reference;
  ReplicationRound round;
  round.round = int64_t(rounds.size()) + 1;
  round.seeds = study.seeds;
  round.widest = 0;
  for (const auto& condition : conditions) {
    if (condition == reference) continue;
    std::vector<double> differences;
    for (const auto& [seed, value] : values[condition]) {
      const auto partner = values[reference].find(seed);
      if (partner != values[reference].end()) differences.push_back(value - partner->second);
    }
    round.halfwidths.emplace_back(condition, halfwidth(differences));
    round.widest = std::max(round.widest, round.halfwidths.back().second);
  }
  if (round.widest <= rule.target_halfwidth) {
    round.decision = "precise";
  } else if (int64_t(study.seeds.size()) >= rule.max_seeds) {
    round.decision = "max_seeds";
  } else {
    round.decision = "add";
    int64_t next = *std::max_element(study.seeds.begin(), study.seeds.end());
    const int64_t count = std::min(rule.seeds_per_round, rule.max_seeds - int64_t(study.seeds.size()));
    for (int64_t i = 0; i < count; ++i) round.added.push_back(++next);
  }
  rounds.push_back(round);
  write_rounds(study, rounds);
  return round;
}

std::string describe(const ReplicationRound& round, const ReplicateRule& rule) {
  std::ostringstream out;
  out << "replication round " << round.round << " (" << round.seeds.size() << " seeds): widest 95 % CI half-width of "
      << rule.metric << " against the reference ";
  if (std::isfinite(round.widest)) {
    out << "±" << round.widest;
  } else {
    out << "unknown (a condition has fewer than two seeds paired)";
  }
  out << ", target ±" << rule.target_halfwidth << ": ";
  if (round.decision == "precise") out << "precise enough, done";
  if (round.decision == "max_seeds") out << "not reached with max_seeds = " << rule.max_seeds << ", done";
  if (round.decision == "add") out << "adding seed" << (round.added.size() > 1 ? "s " : " ") << seed_list(round.added);
  return out.str();
}

}  // namespace kmoe
