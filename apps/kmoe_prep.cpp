// kmoe-prep DECK.toml [--set section.key=value ...]
// Raw text → SentencePiece tokenizer + train / validation / test token shards, as the deck's
// [data] section says. Prints the tokens per split and the unigram entropy of the training
// tokens (a model must beat it to have learnt more than token frequencies).
#include <cstring>
#include <iomanip>
#include <iostream>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "data/corpus_preparation.hpp"
#include "io/run_deck.hpp"

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::cerr << "usage: kmoe-prep DECK.toml [--set section.key=value ...]\n";
    return kmoe::kExitUsage;
  }
  std::vector<std::string> overrides;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
      overrides.push_back(argv[++i]);
    } else {
      std::cerr << "kmoe-prep: unexpected argument '" << argv[i] << "'\n";
      return kmoe::kExitUsage;
    }
  }
  try {
    const auto deck = kmoe::load_run_deck(argv[1], overrides);
    const auto data = kmoe::prepare_corpus(deck, std::cout);
    const char* names[3] = {"train", "validation", "test"};
    for (int s = 0; s < 3; ++s) {
      std::cout << std::setw(11) << names[s] << ": " << std::setw(9) << data.tokens[s] << " tokens, "
                << data.documents[s] << " documents\n";
    }
    std::cout << "unigram entropy of the training tokens: " << std::fixed << std::setprecision(4)
              << data.unigram_entropy << " nats/token\n"
              << "shards: " << data.train << " " << data.val << " " << data.test << "\n"
              << "tokenizer: " << data.tokenizer << "\n";
  } catch (const std::exception& err) {  // kmoe::Error, and the filesystem's and SentencePiece's errors
    std::cout.flush();
    std::cerr << "kmoe-prep: " << err.what() << "\n";
    return kmoe::kExitFailed;
  }
  return 0;
}
