// The programs' command lines, parsed by CLI11: `--help` everywhere, one error style, and exit
// code 2 for a command line that cannot be run.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/exit_codes.hpp"

namespace kmoe {

// nullopt when the program goes on; else its exit code: 0 after --help, kExitUsage after a usage
// error (CLI11's message and the usage on stderr). Kokkos's --kokkos-* arguments are Kokkos's.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> reversed;  // CLI11 takes the arguments last first
  for (int i = argc - 1; i >= 1; --i) {
    if (std::string(argv[i]).rfind("--kokkos-", 0) != 0) reversed.push_back(argv[i]);
  }
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitComplete : kExitUsage;
  }
  return std::nullopt;
}

// A whole number of at least `least` (CLI11's own range checks print the double's range).
inline CLI::Validator whole_number(long long least) {
  return CLI::Validator(
      [least](std::string& value) {
        size_t end = 0;
        long long number = 0;
        try {
          number = std::stoll(value, &end);
        } catch (const std::exception&) {
          end = 0;
        }
        if (end > 0 && end == value.size() && number >= least) return std::string();
        return "a whole number of at least " + std::to_string(least) + " is needed, not '" + value + "'";
      },
      least > 0 ? "N>0" : "N>=0");
}

// --set section.key=value, as often as wanted.
inline CLI::Option* add_overrides(CLI::App& app, std::vector<std::string>& overrides) {
  return app.add_option("--set", overrides, "override a deck value (TOML syntax; a bare word is a string)")
      ->type_name("SECTION.KEY=VALUE")
      ->allow_extra_args(false);
}

}  // namespace kmoe
