#include "study/study_runner.hpp"

#include "core/error.hpp"
#include "data/corpus_preparation.hpp"
#include "io/atomic_file.hpp"
#include "study/cell_status.hpp"
#include "train/stop_signal.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace kmoe {
namespace fs = std::filesystem;

namespace {

std::string deck_path(const StudyDeck& study, const StudyCell& cell) {
  return study.output_dir + "/decks/" + cell.name + ".toml";
}

std::string quoted(const std::string& s) {
  std::ostringstream out;
  out << '"';
  for (char c : s) out << (c == '"' || c == '\\' ? "\\" : "") << c;
  out << '"';
  return out.str();
}

pid_t start_cell(const std::string& kmoe_train, const std::string& deck, const std::string& log_file, int threads) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::setenv("OMP_PROC_BIND", "false", 1);
  if (std::freopen(log_file.c_str(), "a", stdout) && std::freopen(log_file.c_str(), "a", stderr)) {
    ::execl(kmoe_train.c_str(), kmoe_train.c_str(), deck.c_str(), "--resume", static_cast<char*>(nullptr));
  }
  _exit(127);
}

// seconds_per_cell: wall time per cell finished in this session (0 = none yet).
std::string progress_line(size_t done, size_t running, size_t pending, size_t failed, double seconds_per_cell,
                          int jobs) {
  std::ostringstream out;
  out << "study: " << done << " complete, " << running << " running, " << pending << " pending";
  if (failed) out << ", " << failed << " failed";
  if (seconds_per_cell > 0 && pending + running > 0) {
    const double eta = seconds_per_cell * double(pending + running) / double(jobs);
    out << ", ETA " << int(eta / 60) << " min " << int(eta) % 60 << " s";
  }
  return out.str();
}

}  // namespace

void write_study_files(const StudyDeck& study, const std::vector<StudyCell>& cells) {
  fs::create_directories(study.output_dir + "/decks");
  std::ostringstream manifest;
  manifest << "# kmoe study manifest: every cell, its deck and state (rewritten as the study runs)\n"
           << "study = " << quoted(study.name) << "\nsource = " << quoted(study.source) << "\n";
  for (const auto& cell : cells) {
    write_file_atomically(deck_path(study, cell), to_toml(cell.deck), "cell deck");
    const auto status = read_cell_status(cell);
    manifest << "\n[[cells]]\nname = " << quoted(cell.name) << "\ndeck = " << quoted(deck_path(study, cell))
             << "\nstate = " << quoted(status.state) << "\nstep = " << status.step << "\n";
    for (const auto& [key, value] : cell.varied) manifest << "varied." << key << " = " << value << "\n";
  }
  write_file_atomically(study.output_dir + "/manifest.toml", manifest.str(), "study manifest");
}

int run_study(const StudyDeck& study, const std::vector<StudyCell>& cells, const StudyRunOptions& options,
              std::ostream& log) {
  install_stop_handlers();
  write_study_files(study, cells);
  std::set<std::string> prepared;
  for (const auto& cell : cells) {
    if (!cell.deck.data.train_shard.empty() || stop_requested()) continue;
    if (prepared.insert(prepared_data_directory(cell.deck)).second) prepare_corpus(cell.deck, log);
  }
  fs::create_directories(study.output_dir + "/logs");
  std::vector<const StudyCell*> queue;
  size_t done = 0, failed = 0;
  for (const auto& cell : cells) {
    const auto state = read_cell_status(cell).state;
    if (state == "complete") ++done;
    if (state == "failed") {
      ++failed;
      log << "study: " << cell.name << " failed earlier; not retried (see " << study.output_dir << "/logs)\n";
    }
    if (state != "complete" && state != "failed") queue.push_back(&cell);
  }
  const int jobs = std::max(1, std::min<int>(options.jobs, int(std::max<size_t>(1, queue.size()))));
  const int threads = std::max(1, int(std::thread::hardware_concurrency()) / jobs);
  std::map<pid_t, const StudyCell*> running;
  size_t next = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  const size_t done_before = done;
  bool forwarded = false;
  log << progress_line(done, 0, queue.size(), failed, 0, jobs) << std::endl;
  while (next < queue.size() || !running.empty()) {
    while (!stop_requested() && next < queue.size() && running.size() < size_t(jobs)) {
      const StudyCell* cell = queue[next++];
      const std::string log_file = study.output_dir + "/logs/" + cell->name + ".log";
      running[start_cell(options.kmoe_train, deck_path(study, *cell), log_file, threads)] = cell;
      log << "study: started " << cell->name << " (" << threads << " threads, log " << log_file << ")" << std::endl;
    }
    if (stop_requested() && !forwarded) {
      for (const auto& entry : running) ::kill(entry.first, SIGTERM);
      forwarded = true;
      next = queue.size();
    }
    int wstatus = 0;
    const pid_t pid = ::waitpid(-1, &wstatus, 0);
    if (pid < 0) continue;  // interrupted by a signal: forward it on the next pass
    const StudyCell* cell = running.at(pid);
    running.erase(pid);
    const int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    if (code == 0) ++done;
    if (code != 0 && code != 75) ++failed;
    log << "study: " << cell->name << (code == 0 ? " complete" : code == 75 ? " stopped" : " failed (exit " + std::to_string(code) + ")")
        << std::endl;
    const size_t pending = queue.size() - std::min(next, queue.size());
    const double per_cell = done > done_before ? elapsed() * jobs / double(done - done_before) : 0;
    log << progress_line(done, running.size(), pending, failed, per_cell, jobs) << std::endl;
  }
  write_study_files(study, cells);
  if (stop_requested()) return 75;
  return failed ? 1 : 0;
}

}  // namespace kmoe
