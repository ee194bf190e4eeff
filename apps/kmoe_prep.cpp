// kmoe-prep DECK.toml [--set section.key=value ...]
// Raw text → SentencePiece tokenizer + train / validation / test token shards, as the deck's
// [data] section says. Prints the tokens per split and the unigram entropy of the training
// tokens (a model must beat it to have learnt more than token frequencies).
#include <iomanip>
#include <iostream>

#include "command_line.hpp"
#include "core/error.hpp"
#include "data/corpus_preparation.hpp"
#include "io/run_deck.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Prepares a deck's corpus: a SentencePiece tokenizer and train / validation / test token shards.",
               "kmoe-prep"};
  std::string deck_path;
  std::vector<std::string> overrides;
  app.add_option("deck", deck_path, "the run deck")->required()->type_name("DECK.toml");
  kmoe::add_overrides(app, overrides);
  if (const auto code = kmoe::parse_command_line(app, argc, argv)) return *code;
  try {
    const auto deck = kmoe::load_run_deck(deck_path, overrides);
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
  return kmoe::kExitComplete;
}
