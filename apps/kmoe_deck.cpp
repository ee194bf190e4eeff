// kmoe-deck: inspect run decks.
//   kmoe-deck schema                      every key, its default, type and allowed values
//   kmoe-deck resolve DECK [--set k=v]    the validated deck with defaults filled in
#include <iostream>

#include "command_line.hpp"
#include "core/error.hpp"
#include "io/run_deck.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Inspects run decks.", "kmoe-deck"};
  app.require_subcommand(1);
  auto* schema = app.add_subcommand("schema", "every deck key with its type, default, allowed values and meaning");
  auto* resolve = app.add_subcommand("resolve", "the validated deck with every default filled in, as TOML");
  std::string deck_path;
  std::vector<std::string> overrides;
  resolve->add_option("deck", deck_path, "the run deck")->required()->type_name("DECK.toml");
  kmoe::add_overrides(*resolve, overrides);
  if (const auto code = kmoe::parse_command_line(app, argc, argv)) return *code;
  try {
    if (schema->parsed()) {
      std::cout << kmoe::schema_reference();
    } else {
      std::cout << kmoe::to_toml(kmoe::load_run_deck(deck_path, overrides));
    }
  } catch (const kmoe::Error& err) {
    std::cerr << "kmoe-deck: " << err.what() << "\n";
    return kmoe::kExitFailed;
  }
  return kmoe::kExitComplete;
}
