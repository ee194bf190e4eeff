#include "train/output_guard.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace kmoe {
namespace fs = std::filesystem;

namespace {

// The same file however it is spelled (also when it does not exist yet).
bool same_file(const std::string& a, const std::string& b) {
  std::error_code error;
  if (fs::exists(a, error) && fs::exists(b, error)) return fs::equivalent(a, b, error);
  return fs::weakly_canonical(a, error) == fs::weakly_canonical(b, error);
}

bool written_by_kmoe(const std::string& path) {
  char head[8] = {0};
  std::ifstream in(path, std::ios::binary);
  in.read(head, sizeof(head));
  static const char hdf5[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  return in.gcount() == 8 && (std::memcmp(head, hdf5, 8) == 0 || std::memcmp(head, "KMOECKP", 7) == 0);
}

}  // namespace

void check_outputs(const RunDeck& deck, const RunPaths& paths) {
  std::vector<std::pair<std::string, std::string>> outputs = {{"the record", paths.record},
                                                              {"the record in progress", paths.partial},
                                                              {"the checkpoint", paths.checkpoint},
                                                              {"the weights", paths.weights}};
  const size_t files = outputs.size();  // the locks beside them are kmoe's own, whatever they hold
  for (const auto& lock : paths.locks) outputs.emplace_back("a lock", lock + ".lock");
  const std::vector<std::pair<std::string, std::string>> inputs = {{"data.corpus", deck.data.corpus},
                                                                   {"data.train_shard", deck.data.train_shard},
                                                                   {"data.val_shard", deck.data.val_shard},
                                                                   {"model.init_weights", deck.model.init_weights}};
  const std::string keys = " (from run.output_dir, run.name and output.hdf5)";
  for (size_t i = 0; i < outputs.size(); ++i) {
    for (size_t j = i + 1; j < outputs.size(); ++j) {
      require(!same_file(outputs[i].second, outputs[j].second),
              outputs[i].second + " would be both " + outputs[i].first + " and " + outputs[j].first + " of run '" +
                  deck.run.name + "'" + keys + ": give output.hdf5 a name of its own");
    }
    for (const auto& [key, input] : inputs) {
      require(input.empty() || !same_file(outputs[i].second, input),
              outputs[i].second + " would be " + outputs[i].first + " of run '" + deck.run.name + "'" + keys +
                  ", but it is the run's input " + key + ": kmoe does not write over its inputs");
    }
  }
  for (size_t i = 0; i < files; ++i) {
    const std::string& path = outputs[i].second;
    require(!fs::is_directory(path), path + " is a directory, but it would be " + outputs[i].first + " of run '" +
                                         deck.run.name + "'" + keys + ": move it, or choose another run.name");
    require(!fs::is_regular_file(path) || written_by_kmoe(path),
            path +
                " exists and is not a file kmoe wrote (neither HDF5 nor a kmoe checkpoint); kmoe replaces and "
                "removes only its own files: move it, or choose another output.hdf5 or run.name");
  }
}

}  // namespace kmoe
