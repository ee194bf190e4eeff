#include "data/run_shards.hpp"

#include <sstream>
#include <utility>

#include "core/error.hpp"
#include "data/corpus_preparation.hpp"
#include "io/deck_schema.hpp"

namespace kmoe {

Shards open_shards(const RunDeck& deck, std::ostream& log) {
  Shards s;
  std::string train = deck.data.train_shard, val = deck.data.val_shard, test = deck.data.test_shard;
  if (train.empty()) {
    const auto prepared = prepare_corpus(deck, log);
    train = prepared.train;
    val = prepared.val;
    test = prepared.test;
    s.unigram_entropy = prepared.unigram_entropy;
    s.preparation = preparation_identity(prepared);
  }
  s.train = std::make_unique<TokenShard>(train, deck.model.vocab_size);
  s.val = std::make_unique<TokenShard>(val, deck.model.vocab_size);
  if (!test.empty()) s.test = std::make_unique<TokenShard>(test, deck.model.vocab_size);
  const int64_t window = deck.model.seq_len + 1;
  for (const TokenShard* shard : {s.train.get(), s.val.get(), s.test.get()}) {
    if (shard && shard->size() < window) {
      throw Error(shard->path() + ": " + std::to_string(shard->size()) + " tokens, fewer than one window of " +
                  "model.seq_len + 1 = " + std::to_string(window) + "; use a larger split or a shorter seq_len");
    }
  }
  return s;
}

std::string data_identity(const Shards& s) {
  std::ostringstream out;
  const std::pair<const char*, const TokenShard*> splits[] = {
      {"train", s.train.get()}, {"val", s.val.get()}, {"test", s.test.get()}};
  for (const auto& [name, shard] : splits) {
    if (!shard) continue;
    out << name << " = { path = " << toml_string(shard->path()) << ", tokens = " << shard->size() << ", fnv1a64 = \""
        << std::hex << shard->checksum() << std::dec << "\" }\n";
  }
  return out.str() + s.preparation;
}

std::string changed_data(const std::string& then, const std::string& now) {
  const auto content = [](std::string line) {
    const size_t path = line.find("path = \"");
    const size_t end = path == std::string::npos ? path : line.find('"', path + 8);
    return end == std::string::npos ? line : line.erase(path, end + 1 - path);
  };
  std::istringstream a(then), b(now);
  std::string changed;
  for (std::string x, y; std::getline(a, x);) {
    if (!std::getline(b, y) || content(x) != content(y)) changed += "\n  was: " + x + "\n  now: " + y;
  }
  return changed;
}

}  // namespace kmoe
