// The run's token shards: opened from the deck (prepared from data.corpus when no shards are
// given), with their identity — paths, token counts and checksums — that checkpoints compare on
// resume and records keep as provenance.
#pragma once

#include <limits>
#include <memory>
#include <ostream>
#include <string>

#include "data/token_shard.hpp"
#include "io/run_deck.hpp"

namespace kmoe {

struct Shards {
  std::unique_ptr<TokenShard> train, val, test;
  double unigram_entropy = std::numeric_limits<double>::quiet_NaN();
  std::string preparation;  // tokenizer and corpus sources of prepared data (TOML lines)
};

// Throws kmoe::Error when a split is shorter than one window of model.seq_len + 1 tokens.
Shards open_shards(const RunDeck& deck, std::ostream& log);

// The shards' identity as TOML lines.
std::string data_identity(const Shards& s);

// The lines of `then` whose content differs in `now` ("" when none; paths may differ: data
// directories move).
std::string changed_data(const std::string& then, const std::string& now);

}  // namespace kmoe
