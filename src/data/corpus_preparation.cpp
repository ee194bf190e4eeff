#include "data/corpus_preparation.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>

#include "core/error.hpp"
#include "core/fnv_hash.hpp"
#include "core/wall_timer.hpp"
#include "data/document_split.hpp"
#include "data/text_corpus.hpp"
#include "data/token_shard.hpp"
#include "data/tokenizer.hpp"
#include "io/deck_schema.hpp"

namespace kmoe {
namespace fs = std::filesystem;

namespace {

const char* kSplitNames[3] = {"train", "val", "test"};

std::string settings_key(const RunDeck& deck) {
  const auto& d = deck.data;
  std::ostringstream key;
  key << "corpus=" << fs::absolute(d.corpus).lexically_normal().string() << ";tokenizer=" << d.tokenizer_model
      << ";vocab=" << deck.model.vocab_size << ";holdout=" << std::setprecision(17) << d.holdout_fraction
      << ";test=" << deck.eval.test_fraction << ";seed=" << d.split_seed << ";max_documents=" << d.max_documents
      << ";max_tokens=" << d.max_tokens << ";max_doc_chars=" << d.max_doc_chars << ";format=1";
  return key.str();
}

std::string hex64(uint64_t v) {
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << v;
  return out.str();
}

PreparedData paths_in(const std::string& dir) {
  PreparedData p;
  p.directory = dir;
  p.tokenizer = dir + "/tokenizer.model";
  p.train = dir + "/train.bin";
  p.val = dir + "/val.bin";
  p.test = dir + "/test.bin";
  return p;
}

// True when `dir` holds data prepared with these settings from the corpus as it is now.
bool read_meta(const std::string& dir, const std::string& key, const std::string& corpus, PreparedData& p,
               std::ostream& log) {
  const std::string meta = dir + "/meta.toml";
  if (!fs::exists(meta)) return false;
  toml::table table;
  try {
    table = toml::parse_file(meta);
  } catch (const toml::parse_error& err) {
    throw Error(meta + ": corrupt preparation record (" + std::string(err.description()) + "); delete the directory " +
                dir + " to prepare the data again");
  }
  if (table["settings"].value_or(std::string()) != key) return false;
  const auto* sources = table["sources"].as_table();
  if (!sources) throw Error(meta + ": corrupt preparation record (no [sources]); delete " + dir + " to prepare again");
  // Compared by content, in file order, so the same corpus reached from another directory matches.
  std::vector<std::string> recorded;
  for (const auto& entry : *sources) recorded.push_back(entry.second.value_or(std::string()));
  const auto files = corpus_files(corpus);
  bool same = files.size() == recorded.size();
  for (size_t i = 0; same && i < files.size(); ++i) {
    same = recorded[i] == "fnv1a64:" + hex64(fnv1a64(read_whole_file(files[i])));
  }
  if (!same) {
    log << "data: the corpus " << corpus << " changed since " << dir << " was prepared; preparing again\n";
    return false;
  }
  p.tokenizer = table["tokenizer"].value_or(p.tokenizer);
  for (int s = 0; s < 3; ++s) {
    p.documents[s] = table[kSplitNames[s]]["documents"].value_or(int64_t{0});
    p.tokens[s] = table[kSplitNames[s]]["tokens"].value_or(int64_t{0});
  }
  p.unigram_entropy = table["unigram_entropy_nats"].value_or(0.0);
  return true;
}

void write_meta(const RunDeck& deck, const std::string& key, const Corpus& corpus, const PreparedData& p) {
  toml::table meta;
  meta.insert("settings", key);
  meta.insert("corpus", deck.data.corpus);
  meta.insert("tokenizer", p.tokenizer);
  meta.insert("vocab_size", deck.model.vocab_size);
  meta.insert("split_seed", deck.data.split_seed);
  meta.insert("holdout_fraction", deck.data.holdout_fraction);
  meta.insert("test_fraction", deck.eval.test_fraction);
  meta.insert("unigram_entropy_nats", p.unigram_entropy);
  toml::table sources;
  for (size_t i = 0; i < corpus.files.size(); ++i)
    sources.insert(corpus.files[i], "fnv1a64:" + hex64(corpus.file_checksums[i]));
  meta.insert("sources", sources);
  for (int s = 0; s < 3; ++s) {
    meta.insert(kSplitNames[s], toml::table{{"documents", p.documents[s]}, {"tokens", p.tokens[s]}});
  }
  const std::string path = p.directory + "/meta.toml";
  {
    std::ofstream out(path + ".partial");
    out << meta << "\n";
  }
  fs::rename(path + ".partial", path);
}

}  // namespace

double unigram_entropy(const std::vector<uint32_t>& tokens, int vocab_size) {
  std::vector<int64_t> counts(vocab_size, 0);
  for (uint32_t t : tokens) ++counts[t];
  double h = 0;
  for (int64_t c : counts) {
    if (c == 0) continue;
    const double p = double(c) / double(tokens.size());
    h -= p * std::log(p);
  }
  return h;
}

std::string prepared_data_directory(const RunDeck& deck) {
  const std::string file = fs::path(deck.data.corpus).filename().string();
  // At most 64 characters of the name: the settings' hash keeps the directory unique.
  const std::string stem = file.empty() ? "corpus" : fs::path(file).stem().string().substr(0, 64);
  return deck.data.data_dir + "/prepared/" + stem + "-v" + std::to_string(deck.model.vocab_size) + "-" +
         hex64(fnv1a64(settings_key(deck))).substr(0, 8);
}

PreparedData prepare_corpus(const RunDeck& deck, std::ostream& log) {
  const auto& d = deck.data;
  const std::string key = settings_key(deck);
  const std::string dir = prepared_data_directory(deck);
  PreparedData p = paths_in(dir);
  if (read_meta(dir, key, d.corpus, p, log)) {
    p.reused = true;
    log << "data: using prepared " << dir << "\n";
    return p;
  }
  if (!d.tokenizer_model.empty() && !fs::is_regular_file(d.tokenizer_model)) {
    throw Error(deck.source + ": key 'data.tokenizer_model' names " + d.tokenizer_model +
                ", which is not a file; allowed: a SentencePiece .model file, or \"\" to train one");
  }
  WallTimer timer;
  std::error_code made;
  fs::create_directories(dir, made);
  if (made) throw Error(dir + ": cannot create the prepared-data directory (" + made.message() + ")");
  fs::remove(dir + "/meta.toml");  // stale or absent; written again only when every shard is in place
  const Corpus corpus = read_corpus(d.corpus, CorpusLimits{d.max_documents, d.max_doc_chars});
  const auto split =
      split_documents(corpus.documents.size(), uint64_t(d.split_seed), d.holdout_fraction, deck.eval.test_fraction);
  std::vector<std::string> train_docs;
  for (size_t i = 0; i < split.size(); ++i) {
    if (split[i] == Split::Train) train_docs.push_back(corpus.documents[i]);
  }
  log << "data: " << corpus.documents.size() << " documents from " << corpus.files.size() << " file(s) in " << d.corpus
      << "\n";
  // Every split needs a document before the tokenizer is trained (minutes on a large corpus).
  for (const Split s : {Split::Train, Split::Validation, Split::Test}) {
    if (std::find(split.begin(), split.end(), s) == split.end()) {
      throw Error(deck.source + ": the " + kSplitNames[int(s)] + " split of " + d.corpus + " (" +
                  std::to_string(corpus.documents.size()) + " documents) is empty; raise data.holdout_fraction / " +
                  "eval.test_fraction or use a corpus with more documents");
    }
  }
  if (d.tokenizer_model.empty()) {
    log << "data: training a " << deck.model.vocab_size << "-piece BPE tokenizer on " << train_docs.size()
        << " training documents\n";
    train_tokenizer(train_docs, int(deck.model.vocab_size), p.tokenizer,
                    int(std::max(1u, std::thread::hardware_concurrency())));
  } else {
    p.tokenizer = d.tokenizer_model;
  }
  const Tokenizer tokenizer(p.tokenizer);
  if (tokenizer.vocab_size() > deck.model.vocab_size) {
    throw Error(deck.source + ": key 'model.vocab_size' is " + std::to_string(deck.model.vocab_size) +
                " but tokenizer " + p.tokenizer + " has " + std::to_string(tokenizer.vocab_size()) + " pieces");
  }
  std::vector<uint32_t> tokens[3];
  for (size_t i = 0; i < split.size(); ++i) {
    const int s = static_cast<int>(split[i]);
    if (s == 0 && d.max_tokens > 0 && int64_t(tokens[0].size()) >= d.max_tokens) continue;
    for (int id : tokenizer.encode(corpus.documents[i])) tokens[s].push_back(uint32_t(id));
    tokens[s].push_back(uint32_t(tokenizer.end_of_text()));
    ++p.documents[s];
  }
  if (d.max_tokens > 0 && int64_t(tokens[0].size()) > d.max_tokens) tokens[0].resize(size_t(d.max_tokens));
  for (int s = 0; s < 3; ++s) {
    if (tokens[s].empty()) {
      throw Error(deck.source + ": the " + kSplitNames[s] + " split is empty; raise data.holdout_fraction / " +
                  "eval.test_fraction or use a larger corpus");
    }
    p.tokens[s] = int64_t(tokens[s].size());
  }
  write_token_shard(p.train, tokens[0], int(deck.model.vocab_size));
  write_token_shard(p.val, tokens[1], int(deck.model.vocab_size));
  write_token_shard(p.test, tokens[2], int(deck.model.vocab_size));
  p.unigram_entropy = unigram_entropy(tokens[0], int(deck.model.vocab_size));
  write_meta(deck, key, corpus, p);
  log << "data: prepared " << dir << " in " << std::fixed << std::setprecision(1) << timer.seconds() << " s\n";
  return p;
}

// Where prepared tokens came from: the tokenizer file and each corpus source, with checksums.
std::string preparation_identity(const PreparedData& p) {
  std::ostringstream out;
  out << "tokenizer = { path = " << toml_string(p.tokenizer) << ", fnv1a64 = \"" << std::hex
      << fnv1a64(read_whole_file(p.tokenizer)) << std::dec << "\" }\n";
  const auto meta = toml::parse_file(p.directory + "/meta.toml");
  if (const auto* sources = meta["sources"].as_table()) {
    for (const auto& [file, checksum] : *sources) {
      out << "source = { path = " << toml_string(std::string(file.str()))
          << ", checksum = " << toml_string(checksum.value_or(std::string())) << " }\n";
    }
  }
  return out.str();
}

}  // namespace kmoe
