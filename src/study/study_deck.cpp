#include "study/study_deck.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "io/deck_schema.hpp"

namespace kmoe {
namespace fs = std::filesystem;

namespace {

std::string where(const std::string& source, const toml::node& node) {
  const auto line = node.source().begin.line;
  return line ? source + ":" + std::to_string(line) : source;
}

std::string toml_text(const toml::node& value) {
  if (const auto v = value.value_exact<double>()) return float_text(*v);
  if (const auto v = value.value_exact<std::string>()) return toml_string(*v);  // "x", as a name shows it unquoted
  std::ostringstream out;
  value.visit([&](const auto& v) { out << v; });
  return out.str();
}

std::string resolve(const std::string& study_path, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(study_path).parent_path() / path).lexically_normal().string();
}

void reject_unknown(const toml::table& table, const std::vector<std::string>& known, const std::string& source,
                    const std::string& what) {
  for (const auto& [key, node] : table) {
    bool ok = false;
    for (const auto& k : known) ok = ok || k == key.str();
    if (!ok) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error(where(source, node) + ": unknown key '" + std::string(key.str()) + "' in " + what +
                  "; allowed: " + list);
    }
  }
}

// The entries of a table in the order the file gives them (toml++ keeps them sorted by key).
std::vector<std::pair<std::string, const toml::node*>> in_file_order(const toml::table& table) {
  std::vector<std::pair<std::string, const toml::node*>> entries;
  for (const auto& [key, node] : table) entries.emplace_back(std::string(key.str()), &node);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const auto &x = a.second->source().begin, &y = b.second->source().begin;
    return x.line != y.line ? x.line < y.line : x.column < y.column;
  });
  return entries;
}

// [set.section] / [grid.section] tables → "section.key" entries, in file order.
template <class F>
void for_each_section_key(const toml::node* root, const std::string& source, const std::string& what, F&& f) {
  if (!root) return;
  const auto* table = root->as_table();
  if (!table) throw Error(where(source, *root) + ": [" + what + "] must hold [" + what + ".<section>] tables");
  for (const auto& [section, node] : in_file_order(*table)) {
    const auto* keys = node->as_table();
    if (!keys) throw Error(where(source, *node) + ": [" + what + "." + section + "] must be a table");
    for (const auto& [key, value] : in_file_order(*keys)) f(section + "." + key, *value);
  }
}

template <class T>
std::string what_type() {
  if constexpr (std::is_same_v<T, std::string>) return "a string";
  if constexpr (std::is_same_v<T, int64_t>) return "an integer";
  return "a number (with a decimal point)";
}

template <class T>
T typed(const toml::table& table, const char* key, T fallback, const std::string& source, const std::string& what) {
  const toml::node* node = table.get(key);
  if (!node) return fallback;
  const auto v = node->value_exact<T>();
  if (!v) throw Error(where(source, *node) + ": key '" + what + "." + key + "' must be " + what_type<T>());
  return *v;
}

PromoteRule read_promote(const toml::node& node, const std::string& source) {
  const auto* t = node.as_table();
  if (!t)
    throw Error(where(source, node) +
                ": 'promote' must be a table, e.g. { reference = \"lb=0.01\", better_by = 0.05 }");
  reject_unknown(*t, {"reference", "better_by", "or_balance_within", "top"}, source, "promote");
  PromoteRule r;
  r.reference = typed<std::string>(*t, "reference", "", source, "promote");
  r.better_by = typed<double>(*t, "better_by", 0.0, source, "promote");
  r.or_balance_within = typed<double>(*t, "or_balance_within", -1.0, source, "promote");
  r.top = typed<int64_t>(*t, "top", 0, source, "promote");
  const std::string at = where(source, node) + ": promote: ";
  if (r.top < 0) throw Error(at + "top must be >= 1");
  if ((r.top > 0) == !r.reference.empty()) {
    throw Error(at + "give either reference (with better_by and optionally or_balance_within) or top");
  }
  if (r.top > 0 && (t->contains("better_by") || t->contains("or_balance_within"))) {
    throw Error(at + "better_by and or_balance_within go with reference, not with top");
  }
  if (!std::isfinite(r.better_by) || r.better_by < 0) throw Error(at + "better_by must be a finite number >= 0");
  if (t->contains("or_balance_within") && (!std::isfinite(r.or_balance_within) || r.or_balance_within < 0)) {
    throw Error(at + "or_balance_within must be a finite number >= 0");
  }
  for (const auto& pair : split_pairs(r.reference)) {
    if (pair.first.empty() || pair.second.empty()) {
      throw Error(at + "reference '" + r.reference + "' must be key=value pairs separated by commas");
    }
  }
  return r;
}

std::vector<Stage> read_stages(const toml::table& root, const std::string& source) {
  std::vector<Stage> stages;
  const toml::node* node = root.get("stages");
  if (!node) return stages;
  const auto* list = node->as_array();
  if (!list) throw Error(where(source, *node) + ": stages must be [[stages]] tables");
  for (const auto& entry : *list) {
    const auto* t = entry.as_table();
    if (!t) throw Error(where(source, entry) + ": each [[stages]] entry must be a table");
    reject_unknown(*t, {"name", "until_step", "promote"}, source, "[[stages]]");
    Stage stage;
    stage.name = typed<std::string>(*t, "name", "", source, "stages");
    stage.until_step = typed<int64_t>(*t, "until_step", 0, source, "stages");
    const std::string at = where(source, entry) + ": stage '" + stage.name + "': ";
    if (stage.name.empty() || stage.name.find_first_of("/ \t\n\"") != std::string::npos) {
      throw Error(where(source, entry) + ": each stage needs a name without spaces, quotes or '/'");
    }
    if (stage.until_step < 0 || (t->contains("until_step") && stage.until_step == 0)) {
      throw Error(at + "until_step must be >= 1 (leave it out for a stage that runs to train.max_steps)");
    }
    if (const toml::node* promote = t->get("promote")) {
      if (stages.empty()) throw Error(at + "the first stage has nothing before it to promote from");
      stage.has_promote = true;
      stage.promote = read_promote(*promote, source);
    }
    if (!stages.empty()) {
      const auto& before = stages.back();
      if (before.until_step == 0 || (stage.until_step != 0 && stage.until_step <= before.until_step)) {
        throw Error(at + "until_step must be after the previous stage's (" +
                    (before.until_step ? std::to_string(before.until_step) : "max_steps") + ")");
      }
    }
    for (const auto& other : stages) {
      if (other.name == stage.name) throw Error(at + "two stages have this name");
    }
    stages.push_back(stage);
  }
  return stages;
}

ReplicateRule read_replicate(const toml::table& t, const std::string& source, size_t seeds) {
  reject_unknown(t, {"metric", "target_halfwidth", "max_seeds", "seeds_per_round", "reference"}, source, "[replicate]");
  ReplicateRule r;
  r.metric = typed<std::string>(t, "metric", "best_val_ppl", source, "replicate");
  r.target_halfwidth = typed<double>(t, "target_halfwidth", 0.0, source, "replicate");
  r.max_seeds = typed<int64_t>(t, "max_seeds", 10, source, "replicate");
  r.seeds_per_round = typed<int64_t>(t, "seeds_per_round", 1, source, "replicate");
  r.reference = typed<std::string>(t, "reference", "", source, "replicate");
  std::string metrics;
  for (const char* m : kReplicateMetrics) metrics += (metrics.empty() ? "" : ", ") + std::string(m);
  require(std::any_of(std::begin(kReplicateMetrics), std::end(kReplicateMetrics),
                      [&](const char* m) { return r.metric == m; }),
          source + ": key 'replicate.metric' is \"" + r.metric + "\"; allowed: " + metrics);
  require(r.target_halfwidth > 0, source + ": key 'replicate.target_halfwidth' must be > 0 (in the metric's units)");
  require(seeds >= 2, source + ": [replicate] needs study.seeds with at least two seeds to estimate a first interval");
  require(r.max_seeds >= int64_t(seeds), source + ": key 'replicate.max_seeds' (" + std::to_string(r.max_seeds) +
                                             ") must be at least the study's " + std::to_string(seeds) + " seeds");
  require(r.seeds_per_round >= 1, source + ": key 'replicate.seeds_per_round' must be >= 1");
  return r;
}

SlurmSettings read_slurm(const toml::table& t, const std::string& source) {
  reject_unknown(
      t, {"partition", "account", "time", "mem", "gpus_per_task", "cpus_per_task", "max_parallel", "ranks_per_cell"},
      source, "[slurm]");
  SlurmSettings s;
  s.partition = typed<std::string>(t, "partition", "", source, "slurm");
  s.account = typed<std::string>(t, "account", "", source, "slurm");
  s.time = typed<std::string>(t, "time", "", source, "slurm");
  s.mem = typed<std::string>(t, "mem", "", source, "slurm");
  s.gpus_per_task = typed<int64_t>(t, "gpus_per_task", 0, source, "slurm");
  s.cpus_per_task = typed<int64_t>(t, "cpus_per_task", 0, source, "slurm");
  s.max_parallel = typed<int64_t>(t, "max_parallel", 0, source, "slurm");
  s.ranks_per_cell = typed<int64_t>(t, "ranks_per_cell", 1, source, "slurm");
  require(s.ranks_per_cell >= 1, source + ": key 'slurm.ranks_per_cell' must be >= 1");
  for (const auto& [key, node] : t) {
    if (const auto v = node.value_exact<int64_t>(); v && *v < 0) {
      throw Error(where(source, node) + ": key 'slurm." + std::string(key.str()) + "' must be >= 0");
    }
    if (const auto v = node.value_exact<std::string>(); v && v->find_first_of(" \t\n'\"$`\\") != std::string::npos) {
      throw Error(where(source, node) + ": key 'slurm." + std::string(key.str()) + "' must be one word");
    }
  }
  return s;
}

}  // namespace

std::string unquoted(const std::string& value) {
  return value.size() >= 2 && value.front() == '"' && value.back() == '"' ? value.substr(1, value.size() - 2) : value;
}

std::string short_key(const std::string& key) { return key.substr(key.find('.') + 1); }

std::vector<std::pair<std::string, std::string>> split_pairs(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const auto eq = item.find('=');
    pairs.emplace_back(item.substr(0, eq), eq == std::string::npos ? "" : item.substr(eq + 1));
  }
  return pairs;
}

StudyDeck load_study_deck(const std::string& path) {
  if (!fs::is_regular_file(path)) throw Error(path + ": no such study deck");
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& err) {
    throw Error(path + ":" + std::to_string(err.source().begin.line) +
                ": TOML syntax error: " + std::string(err.description()));
  }
  reject_unknown(root, {"study", "grid", "set", "cells", "stages", "slurm", "replicate"}, path, "a study deck");
  StudyDeck s;
  s.source = path;
  const auto* study = root["study"].as_table();
  if (!study) throw Error(path + ": a study deck needs a [study] table with name, base and output_dir");
  reject_unknown(*study, {"name", "base", "output_dir", "seeds"}, path, "[study]");
  s.name = (*study)["name"].value_or(std::string());
  s.base = resolve(path, (*study)["base"].value_or(std::string()));
  s.output_dir = resolve(path, (*study)["output_dir"].value_or(std::string()));
  const bool name_ok = !s.name.empty() && s.name.size() <= 100 && std::all_of(s.name.begin(), s.name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
  if (!name_ok) {
    throw Error(path + ": key 'study.name' must be 1-100 letters, digits and . _ - (it names Slurm jobs and files)");
  }
  if (s.base.empty()) throw Error(path + ": key 'study.base' must name the run deck the cells start from");
  if (s.output_dir.empty()) throw Error(path + ": key 'study.output_dir' must name a directory");
  if (const auto* seeds = (*study)["seeds"].as_array()) {
    for (const auto& seed : *seeds) {
      const auto v = seed.value_exact<int64_t>();
      if (!v) throw Error(where(path, seed) + ": key 'study.seeds' must be a list of integers");
      s.seeds.push_back(*v);
    }
  } else if ((*study).contains("seeds")) {
    throw Error(path + ": key 'study.seeds' must be a list of integers, e.g. [42, 43, 44]");
  }
  for_each_section_key(root.get("grid"), path, "grid", [&](const std::string& key, const toml::node& values) {
    const auto* list = values.as_array();
    if (!list || list->empty())
      throw Error(where(path, values) + ": grid key '" + key + "' must be a non-empty list of values");
    std::vector<std::string> texts;
    for (const auto& v : *list) texts.push_back(toml_text(v));
    s.grid.emplace_back(key, texts);
  });
  for_each_section_key(root.get("set"), path, "set", [&](const std::string& key, const toml::node& value) {
    s.fixed.push_back(key + "=" + toml_text(value));
  });
  if (const auto* cells = root["cells"].as_array()) {
    for (const auto& node : *cells) {
      const auto* cell = node.as_table();
      if (!cell) throw Error(where(path, node) + ": each [[cells]] entry must be a table with name and set");
      reject_unknown(*cell, {"name", "set"}, path, "[[cells]]");
      StudyDeck::ExplicitCell c;
      c.name = (*cell)["name"].value_or(std::string());
      if (c.name.empty()) throw Error(where(path, node) + ": a [[cells]] entry needs a name");
      if (const auto* set = (*cell)["set"].as_table()) {
        for (const auto& [key, value] : in_file_order(*set)) c.overrides.push_back(key + "=" + toml_text(*value));
      }
      s.explicit_cells.push_back(c);
    }
  }
  s.stages = read_stages(root, path);
  if (const auto* slurm = root["slurm"].as_table()) s.slurm = read_slurm(*slurm, path);
  if (const auto* replicate = root["replicate"].as_table()) {
    require(s.stages.empty(), path + ": [replicate] with [[stages]] is not supported: replicate a study of one stage");
    s.replicate = read_replicate(*replicate, path, s.seeds.size());
  }
  if (s.grid.empty() && s.explicit_cells.empty() && s.seeds.size() < 2) {
    throw Error(path + ": the study has one cell; give [grid.<section>] lists, [[cells]] or several study.seeds");
  }
  return s;
}

std::vector<StudyCell> expand_study(const StudyDeck& s) {
  std::ifstream in(s.base);
  if (!in) throw Error(s.source + ": key 'study.base' names " + s.base + ", which cannot be read");
  std::stringstream base_text;
  base_text << in.rdbuf();
  struct Pending {
    std::string name;
    std::vector<std::pair<std::string, std::string>> varied;
  };
  std::vector<Pending> pending;
  if (!s.grid.empty()) {
    std::vector<size_t> index(s.grid.size(), 0);
    for (bool more = true; more;) {
      Pending p;
      for (size_t g = 0; g < s.grid.size(); ++g) {
        const auto& [key, values] = s.grid[g];
        p.varied.emplace_back(key, values[index[g]]);
        p.name += (p.name.empty() ? "" : ",") + short_key(key) + "=" + unquoted(values[index[g]]);
      }
      pending.push_back(p);
      more = false;
      for (size_t g = s.grid.size(); g-- > 0;) {
        if (++index[g] < s.grid[g].second.size()) {
          more = true;
          break;
        }
        index[g] = 0;
      }
    }
  }
  for (const auto& c : s.explicit_cells) {
    Pending p{c.name, {}};
    for (const auto& o : c.overrides) p.varied.emplace_back(o.substr(0, o.find('=')), o.substr(o.find('=') + 1));
    pending.push_back(p);
  }
  if (pending.empty()) pending.push_back(Pending{"", {}});  // seeds of the base deck alone
  const std::vector<int64_t> seeds = s.seeds.empty() ? std::vector<int64_t>{-1} : s.seeds;
  std::vector<StudyCell> cells;
  for (const auto& p : pending) {
    for (const int64_t seed : seeds) {
      StudyCell cell;
      const std::string seed_part = seed >= 0 ? "seed=" + std::to_string(seed) : "";
      cell.name = p.name.empty() ? (seed_part.empty() ? "base" : seed_part)
                                 : p.name + (seed_part.empty() ? "" : "," + seed_part);
      cell.condition = p.name.empty() ? "base" : p.name;
      cell.varied = p.varied;
      std::vector<std::string> overrides = s.fixed;
      for (const auto& [key, value] : p.varied) overrides.push_back(key + "=" + value);
      if (seed >= 0) {
        overrides.push_back("run.seed=" + std::to_string(seed));
        cell.varied.emplace_back("run.seed", std::to_string(seed));
      }
      overrides.push_back("run.name=" + toml_string(cell.name));
      overrides.push_back("run.output_dir=" + toml_string(s.output_dir + "/runs"));
      overrides.push_back("output.hdf5=\"\"");
      try {
        cell.deck = parse_run_deck_string(base_text.str(), s.base, overrides);
      } catch (const Error& err) {
        throw Error(s.source + ": cell '" + cell.name + "': " + err.what());
      }
      RunDeck unnamed = cell.deck;
      unnamed.run.name.clear();
      const std::string identity = to_toml(unnamed);
      for (const auto& other : cells) {
        if (other.name == cell.name) throw Error(s.source + ": two cells are named '" + cell.name + "'");
        RunDeck other_unnamed = other.deck;
        other_unnamed.run.name.clear();
        if (to_toml(other_unnamed) == identity) {
          throw Error(s.source + ": cells '" + other.name + "' and '" + cell.name +
                      "' would train the same deck (a grid list holding one value twice, such as 1 and 1.0?)");
        }
      }
      for (const auto& stage : s.stages) {
        if (stage.until_step > cell.deck.train.max_steps) {
          throw Error(s.source + ": cell '" + cell.name + "': stage '" + stage.name + "' ends at until_step " +
                      std::to_string(stage.until_step) + ", after the cell's train.max_steps " +
                      std::to_string(cell.deck.train.max_steps));
        }
      }
      cells.push_back(cell);
    }
  }
  return cells;
}

}  // namespace kmoe
