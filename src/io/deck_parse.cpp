// TOML → RunDeck: unknown keys, wrong types and out-of-range values are rejected with
// messages that name the file, the key and what is allowed.
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "io/deck_schema.hpp"

namespace kmoe {
namespace {

std::string where(const std::string& source, const toml::node& node) {
  const auto& src = node.source();
  if (src.begin.line == 0) return source;
  return source + ":" + std::to_string(src.begin.line);
}

Error key_error(const std::string& location, const DeckField& f, const std::string& problem) {
  return Error(location + ": key '" + f.full_name() + "' " + problem + "; allowed: " + f.allowed());
}

void assign(const DeckField& f, const toml::node& node, const std::string& location) {
  switch (f.target.index()) {
    case 0: {
      const auto v = node.value_exact<int64_t>();
      if (!v) throw key_error(location, f, "must be an integer");
      if (!f.bounds.contains(static_cast<double>(*v))) {
        throw key_error(location, f, "has out-of-range value " + std::to_string(*v));
      }
      *std::get<0>(f.target) = *v;
      break;
    }
    case 1: {
      std::optional<double> v;
      if (node.is_integer()) v = static_cast<double>(*node.value_exact<int64_t>());
      if (node.is_floating_point()) v = *node.value_exact<double>();
      if (!v) throw key_error(location, f, "must be a number");
      if (!f.bounds.contains(*v)) {
        std::ostringstream text;
        text << *v;
        throw key_error(location, f, "has out-of-range value " + text.str());
      }
      *std::get<1>(f.target) = *v;
      break;
    }
    case 2: {
      const auto v = node.value_exact<bool>();
      if (!v) throw key_error(location, f, "must be a boolean");
      *std::get<2>(f.target) = *v;
      break;
    }
    default: {
      const auto v = node.value_exact<std::string>();
      if (!v) throw key_error(location, f, "must be a string");
      if (!f.choices.empty() && std::find(f.choices.begin(), f.choices.end(), *v) == f.choices.end()) {
        throw key_error(location, f, "has unknown value \"" + *v + "\"");
      }
      *std::get<3>(f.target) = *v;
    }
  }
}

std::string did_you_mean(const std::string& guess) { return guess.empty() ? "" : " (did you mean '" + guess + "'?)"; }

void reject_unknown_key(const std::string& location, const std::string& section, const std::string& key,
                        const std::vector<DeckField>& fields) {
  std::vector<std::string> same_section, everywhere;
  for (const auto& f : fields) {
    if (f.section == section) same_section.push_back(f.key);
    everywhere.push_back(f.full_name());
  }
  std::string guess = closest_match(key, same_section);
  if (!guess.empty()) guess = section + "." + guess;
  if (guess.empty()) {
    for (const auto& f : fields) {
      if (f.key == key) guess = f.full_name();  // right key, wrong section
    }
  }
  if (guess.empty()) guess = closest_match(section + "." + key, everywhere);
  std::string known;
  for (const auto& k : same_section) known += (known.empty() ? "" : ", ") + k;
  throw Error(location + ": unknown key '" + section + "." + key + "'" + did_you_mean(guess) + "; keys of [" + section +
              "]: " + known);
}

void reject_unknown_section(const std::string& location, const std::string& section) {
  std::string known;
  for (const auto& s : deck_sections()) known += (known.empty() ? "" : ", ") + s;
  throw Error(location + ": unknown section '[" + section + "]'" +
              did_you_mean(closest_match(section, deck_sections())) + "; sections: " + known);
}

void fill_from_table(const toml::table& root, const std::string& source, const std::vector<DeckField>& fields,
                     std::set<std::string>& given) {
  const auto sections = deck_sections();
  for (const auto& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    const std::string location = where(source, section_node);
    if (!section_node.is_table()) {
      std::string guess;
      for (const auto& f : fields) {
        if (f.key == section) guess = f.full_name();
      }
      throw Error(location + ": key '" + section + "' is outside any section" + did_you_mean(guess) +
                  "; keys belong to a [section]");
    }
    if (std::find(sections.begin(), sections.end(), section) == sections.end()) {
      reject_unknown_section(location, section);
    }
    const auto* table = section_node.as_table();
    for (const auto& [key_name, node] : *table) {
      const std::string key(key_name.str());
      const auto it = std::find_if(fields.begin(), fields.end(),
                                   [&](const DeckField& f) { return f.section == section && f.key == key; });
      if (it == fields.end()) reject_unknown_key(where(source, node), section, key, fields);
      assign(*it, node, where(source, node));
      given.insert(it->full_name());
    }
  }
}

std::string printable(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (std::isprint(static_cast<unsigned char>(ch))) {
      out += ch;
    } else {
      char code[8];
      std::snprintf(code, sizeof(code), "\\x%02x", static_cast<unsigned char>(ch));
      out += code;
    }
  }
  return out;
}

void check(bool ok, const std::string& source, const std::string& key, const std::string& msg) {
  if (!ok) throw Error(source + ": key '" + key + "' " + msg);
}

// The keys each routing family needs or cannot use (docs/routing.md).
void validate_routing_family(const MoeSection& e, const std::string& src) {
  const bool no_balancing_loss = e.load_balancing_weight == 0 && e.load_balancing_weight_end == 0;
  const std::string family = "with moe.routing = \"" + e.routing + "\"";
  if (e.routing == "expert_choice") {
    check(e.capacity_factor > 0, src, "moe.capacity_factor",
          "must be > 0 " + family + ": it sets the tokens each expert chooses");
    check(e.gate_norm == "none", src, "moe.gate_norm",
          "must be \"none\" " + family + ": the gates are the chosen experts' scores (Zhou et al.)");
  }
  if (e.routing == "hash") {
    check(e.noise_std == 0, src, "moe.noise_std", "must be 0 " + family + ": there are no logits to add noise to");
    check(e.z_loss_weight == 0, src, "moe.z_loss_weight", "must be 0 " + family + ": there are no logits");
    check(e.score == "softmax", src, "moe.score", "must be \"softmax\" (unused) " + family + ": there are no scores");
    check(e.gate_norm == "selected", src, "moe.gate_norm",
          "must be \"selected\" " + family + ": the gates are route_scale / top_k");
    check(e.router_muon, src, "moe.router_muon",
          "must be true (the default, unused) " + family + ": there is no router");
  }
  if (e.routing == "sinkhorn") {
    check(e.noise_std == 0, src, "moe.noise_std",
          "must be 0 " + family + ": the balancing would see the noise (Megatron adds none)");
  }
  if (e.routing == "expert_choice" || e.routing == "hash" || e.routing == "sinkhorn") {
    check(no_balancing_loss, src, "moe.load_balancing_weight",
          "must be 0 (and moe.load_balancing_weight_end) " + family +
              ": the routing balances by construction (Megatron asserts it for sinkhorn; flaxformer sets 0 for "
              "expert choice; hash has no router)");
    check(!e.aux_free_bias, src, "moe.aux_free_bias", "must be false " + family + ": it balances by construction");
    check(e.groups == 1, src, "moe.groups", "must be 1 " + family + ": group-limited routing is token choice's");
  }
  check(e.routing == "expert_choice" || e.expert_choice_group == "micro_batch", src, "moe.expert_choice_group",
        "is set but moe.routing is not \"expert_choice\": it would do nothing");
  check(e.routing == "hash" || e.hash_table == "random", src, "moe.hash_table",
        "is set but moe.routing is not \"hash\": it would do nothing");
  const bool drops = e.capacity_factor > 0 && e.routing != "expert_choice";
  check(drops || e.drop_policy == "position", src, "moe.drop_policy",
        "needs moe.capacity_factor > 0 and token-choice routing (nothing is dropped otherwise)");
  check(drops || !e.renorm_after_drop, src, "moe.renorm_after_drop",
        "needs moe.capacity_factor > 0 and token-choice routing (nothing is dropped otherwise)");
}

void validate_relations(const RunDeck& d, const std::string& src) {
  const auto& m = d.model;
  const auto& e = d.moe;
  check(m.d_model % m.n_heads == 0, src, "model.n_heads",
        "must divide model.d_model (" + std::to_string(m.d_model) + ")");
  check((m.d_model / m.n_heads) % 2 == 0, src, "model.n_heads",
        "must leave an even head dimension for RoPE pairs (d_model / n_heads = " +
            std::to_string(m.d_model / m.n_heads) + ")");
  check(e.top_k <= e.num_experts, src, "moe.top_k",
        "must be <= moe.num_experts (" + std::to_string(e.num_experts) + ")");
  check(!(e.top_k == 1 && e.gate_norm == "selected" && m.ffn == "moe" && e.routing != "hash"), src, "moe.gate_norm",
        "is \"selected\" with moe.top_k = 1: the one renormalised gate is always moe.route_scale, so the "
        "language-model loss sends the router no gradient (it would learn from the balancing losses only); allowed "
        "with top_k = 1: \"none\" (the gate is the expert's score, as in Switch)");
  check(e.shared_experts > 0 || (e.shared_expert_d_ff == 0 && e.shared_gate == "none"), src,
        e.shared_expert_d_ff != 0 ? "moe.shared_expert_d_ff" : "moe.shared_gate",
        "is set but moe.shared_experts = 0: it would do nothing; set moe.shared_experts >= 1");
  check(e.shared_experts == 0 || m.ffn == "moe", src, "moe.shared_experts",
        "needs model.ffn = \"moe\" (a dense model has no routed experts to share with)");
  check(e.load_balancing_layers != "pooled" || e.load_balancing_scope == "micro_batch", src,
        "moe.load_balancing_layers",
        "is \"pooled\" (Hugging Face's convention, over one micro-batch) with moe.load_balancing_scope = \"" +
            e.load_balancing_scope + "\": use \"sum\" or \"mean\" with that scope, or scope \"micro_batch\"");
  check(e.routing != "random" || e.noise_std == 0, src, "moe.noise_std",
        "must be 0 with moe.routing = \"random\": the logits are already random draws, noise on them would do nothing");
  validate_routing_family(e, src);
  check(e.num_experts % e.groups == 0, src, "moe.groups",
        "must divide moe.num_experts (" + std::to_string(e.num_experts) + ")");
  check(e.group_topk <= e.groups, src, "moe.group_topk", "must be <= moe.groups (" + std::to_string(e.groups) + ")");
  check(e.top_k <= e.group_topk * (e.num_experts / e.groups), src, "moe.top_k",
        "must be <= the experts of moe.group_topk groups (" + std::to_string(e.group_topk) + " x " +
            std::to_string(e.num_experts / e.groups) + ")");
  check(e.group_score != "topk_sum" || e.groups == 1 ||
            (e.group_topk <= e.top_k && e.top_k / e.group_topk <= e.num_experts / e.groups),
        src, "moe.group_score",
        "is \"topk_sum\", which sums each group's top (top_k / group_topk) scores: needs group_topk <= top_k and "
        "top_k / group_topk <= experts per group");
  check(e.lb_decay_end_frac >= e.lb_warmup_frac, src, "moe.lb_decay_end_frac",
        "must be >= moe.lb_warmup_frac (" + std::to_string(e.lb_warmup_frac) + ")");
  const auto& name = d.run.name;
  const bool name_ok = !name.empty() && name.size() <= 200 && name != "." && name != ".." && name[0] != '-' &&
                       std::all_of(name.begin(), name.end(), [](char ch) {
                         return std::isalnum(static_cast<unsigned char>(ch)) || std::strchr("._-=,+@", ch);
                       });
  check(name_ok, src, "run.name",
        "is \"" + printable(name) +
            "\"; allowed: 1-200 letters, digits and . _ - = , + @ (not \".\" or \"..\", "
            "not starting with '-'): it names files");
  const bool has_shards = !d.data.train_shard.empty();
  check(has_shards || !d.data.corpus.empty(), src, "data.corpus",
        "must be set when data.train_shard is empty (where does the training text come from?)");
  check(!has_shards || !d.data.val_shard.empty(), src, "data.val_shard", "must be set when data.train_shard is set");
}

}  // namespace

RunDeck parse_run_deck_string(const std::string& toml_text, const std::string& source_name,
                              const std::vector<std::string>& overrides) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& err) {
    std::ostringstream msg;
    msg << source_name << ":" << err.source().begin.line << ":" << err.source().begin.column
        << ": TOML syntax error: " << err.description();
    throw Error(msg.str());
  }
  for (const auto& assignment : overrides) {
    const auto eq = assignment.find('=');
    const auto dot = assignment.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
      throw Error("--set '" + assignment + "': expected section.key=value");
    }
    const std::string section = assignment.substr(0, dot);
    const std::string key = assignment.substr(dot + 1, eq - dot - 1);
    const std::string value = assignment.substr(eq + 1);
    if (assignment.find_first_of("\n\r") != std::string::npos || assignment.find('\0') != std::string::npos) {
      throw Error("--set '" + printable(assignment) + "': a value may not contain a line break");
    }
    if (!root.contains(section)) root.insert(section, toml::table{});
    auto* table = root[section].as_table();
    if (!table) throw Error("--set '" + assignment + "': '" + section + "' is not a section");
    toml::table parsed;
    try {
      parsed = toml::parse("v = " + value);
      table->insert_or_assign(key, *parsed.get("v"));
    } catch (const toml::parse_error& err) {
      // A bare word is taken as a string; a value that starts like a TOML string, array or
      // table is one, and malformed (e.g. a quote never closed).
      if (!value.empty() && std::string("\"'[{").find(value.front()) != std::string::npos) {
        throw Error("--set '" + assignment + "': the value is not valid TOML (" + std::string(err.description()) +
                    "); strings are quoted whole, e.g. " + section + "." + key + "=\"text\"");
      }
      table->insert_or_assign(key, value);
    }
  }

  RunDeck deck;
  deck.source = source_name;
  const auto fields = deck_fields(deck);
  std::set<std::string> given;
  fill_from_table(root, source_name, fields, given);
  if (!given.count("moe.load_balancing_weight_end")) {
    deck.moe.load_balancing_weight_end = deck.moe.load_balancing_weight;
  }
  validate_relations(deck, source_name);
  return deck;
}

RunDeck load_run_deck(const std::string& path, const std::vector<std::string>& overrides) {
  if (std::filesystem::is_directory(path)) throw Error(path + ": is a directory, not a run deck");
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open run deck");
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().find_first_not_of(" \t\r\n") == std::string::npos) {
    throw Error(path + ": the run deck is empty (kmoe-deck schema lists every key)");
  }
  return parse_run_deck_string(text.str(), path, overrides);
}

}  // namespace kmoe
