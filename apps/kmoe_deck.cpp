// kmoe-deck: inspect run decks.
//   kmoe-deck schema                      every key, its default, type and allowed values
//   kmoe-deck resolve DECK [--set k=v]    the validated deck with defaults filled in
#include <cstring>
#include <iostream>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "io/run_deck.hpp"

namespace {

int usage() {
  std::cerr << "usage: kmoe-deck schema\n"
               "       kmoe-deck resolve DECK.toml [--set section.key=value ...]\n";
  return kmoe::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string command = argv[1];
  try {
    if (command == "schema") {
      std::cout << kmoe::schema_reference();
      return 0;
    }
    if (command == "resolve" && argc >= 3) {
      std::vector<std::string> overrides;
      for (int i = 3; i < argc; ++i) {
        if (std::strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
          overrides.push_back(argv[++i]);
        } else {
          return usage();
        }
      }
      std::cout << kmoe::to_toml(kmoe::load_run_deck(argv[2], overrides));
      return 0;
    }
  } catch (const kmoe::Error& err) {
    std::cerr << "kmoe-deck: " << err.what() << "\n";
    return kmoe::kExitFailed;
  }
  return usage();
}
