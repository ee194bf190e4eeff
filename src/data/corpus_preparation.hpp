// Raw corpus → tokenizer + train / validation / test shards + meta.toml, as the [data]
// section describes. The output directory is named from the corpus and a hash of every
// setting that shapes the result, so preparation is done once and reused by every cell of a
// study (identical data); a finished directory is recognised by its meta.toml.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "io/run_deck.hpp"

namespace kmoe {

struct PreparedData {
  std::string directory, tokenizer, train, val, test;
  int64_t documents[3] = {0, 0, 0};  // train, validation, test
  int64_t tokens[3] = {0, 0, 0};
  double unigram_entropy = 0;  // of the training tokens, nats per token
  bool reused = false;
};

// Prepares (or finds already prepared) data for `deck`. `log` receives progress lines.
PreparedData prepare_corpus(const RunDeck& deck, std::ostream& log);

// Where prepared tokens came from, as TOML lines for the record: the tokenizer file and each
// corpus source, with checksums.
std::string preparation_identity(const PreparedData& prepared);

// Where prepare_corpus puts the data of `deck`: decks that share it share their data.
std::string prepared_data_directory(const RunDeck& deck);

// Shannon entropy (nats) of the token frequency distribution.
double unigram_entropy(const std::vector<uint32_t>& tokens, int vocab_size);

}  // namespace kmoe
