#include "study/study_runner.hpp"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "data/corpus_preparation.hpp"
#include "io/atomic_file.hpp"
#include "io/deck_schema.hpp"
#include "io/hdf5_reader.hpp"
#include "study/cell_status.hpp"
#include "study/replication.hpp"
#include "study/stage_gate.hpp"
#include "train/gradient_sum.hpp"
#include "train/resume_compatibility.hpp"
#include "train/run_lock.hpp"
#include "train/run_paths.hpp"
#include "train/stop_signal.hpp"

namespace kmoe {
namespace fs = std::filesystem;

namespace {

// Cells sharing the cores wait passively: spinning OpenMP threads of one run steal the cores
// of the other (quickstart model, two runs on 2 cores: 140–490 tok/s spinning, 1,650–2,400
// passive). A cell alone keeps the runtime's default, which measured faster than passive
// (median 5,480 vs 4,560 tok/s, three repeats each) with identical losses.
//
// A cell runs in a process group of its own, so a terminal's Ctrl-C (SIGINT to the foreground
// group) reaches the runner only, which sends each cell one SIGTERM: a second signal would make
// kmoe-train exit without its checkpoint. A cell whose runner dies (kill -9) gets SIGTERM
// (PR_SET_PDEATHSIG), or for a multi-rank cell its ranks see the runner gone
// (KMOE_STOP_WHEN_PID_ENDS), and checkpoints.
// How one cell's processes are started.
struct CellLaunch {
  int threads;
  bool sharing_cores;
  int ranks;
  bool oversubscribed;
  int device;  // the GPU it alone sees (CUDA_VISIBLE_DEVICES), or −1
};

pid_t start_cell(const std::string& kmoe_train, const std::vector<std::string>& args, const std::string& log_file,
                 const CellLaunch& launch) {
  const int threads = launch.threads, ranks = launch.ranks;
  const pid_t runner = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::setpgid(0, 0);
  if (ranks > 1) {  // the ranks watch the runner themselves: mpirun, signalled, would kill them
    ::setenv("KMOE_STOP_WHEN_PID_ENDS", std::to_string(runner).c_str(), 1);
  } else {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  }
  if (::getppid() != runner) _exit(kExitStopped);  // the runner died before the request took effect
  ::setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
  if (launch.sharing_cores) ::setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  ::setenv("OMP_PROC_BIND", "false", 1);
  if (launch.device >= 0) ::setenv("CUDA_VISIBLE_DEVICES", std::to_string(launch.device).c_str(), 1);
  std::vector<std::string> command;
  if (ranks > 1) {
    command = {"mpirun", "-np", std::to_string(ranks)};
    if (launch.oversubscribed) command.push_back("--oversubscribe");
  }
  command.push_back(kmoe_train);
  command.insert(command.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : command) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (std::freopen(log_file.c_str(), "a", stdout) && std::freopen(log_file.c_str(), "a", stderr)) {
    ::execvp(argv[0], argv.data());
  }
  _exit(127);
}

// The processes `pid` started (a multi-rank cell's mpirun: its ranks).
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const auto close = line.rfind(')');  // "pid (command) state ppid ..."; the command may hold spaces
    std::istringstream rest(line.substr(close + 1));
    char state = 0;
    pid_t parent = 0;
    if (rest >> state >> parent && parent == pid) out.push_back(pid_t(std::stoi(name)));
  }
  return out;
}

// One SIGTERM to a cell's kmoe-train processes. A multi-rank cell's ranks are signalled
// directly, as Slurm signals every task: mpirun, signalled itself, would kill the ranks a second
// later, perhaps while they write their checkpoint.
void stop_cell(pid_t pid, int ranks) {
  if (ranks == 1) {
    ::kill(pid, SIGTERM);
    return;
  }
  const auto rank_pids = children_of(pid);
  for (const pid_t rank : rank_pids) ::kill(rank, SIGTERM);
  if (rank_pids.empty()) ::kill(pid, SIGTERM);  // no rank started yet: nothing to save
}

// mpirun reports 1 when it was signalled itself, whether or not its ranks stopped with a
// checkpoint, and may return before rank 0 has written the record.
// Once rank 0 lets go of the run's lock (at most a minute), the cell's final record, which
// kmoe-train writes only at such endings (never at a crash), says which: its exit code, else `code`.
int exit_code_from_record(const StudyCell& cell, int code) {
  for (int waited = 0; waited < 600 && read_cell_status(cell).state == RunState::running; ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const RunPaths paths = run_paths(cell.deck);
  if (!fs::exists(paths.record) || !fs::exists(paths.checkpoint)) return code;
  try {
    const auto state = run_state_from(Hdf5Reader(paths.record).string_attribute("/", "status"));
    return state == RunState::stopped ? kExitStopped : state == RunState::complete ? kExitComplete : code;
  } catch (const Error&) {
    return code;
  }
}

// A cell to run: its kmoe-train arguments and the updates it has to go in this stage.
struct QueuedCell {
  const StudyCell* cell;
  std::vector<std::string> args;
  int64_t steps_to_go;
};

// eta_seconds < 0: not known yet.
std::string progress_line(const std::string& stage, size_t done, size_t running, size_t pending, size_t failed,
                          double eta_seconds) {
  std::ostringstream out;
  out << "study" << stage << ": " << done << " done, " << running << " running, " << pending << " pending";
  if (failed) out << ", " << failed << " failed";
  if (eta_seconds >= 0 && pending + running > 0) {
    out << ", ETA " << int(eta_seconds / 60) << " min " << int(eta_seconds) % 60 << " s";
  }
  return out.str();
}

// Runs `queue` `jobs` at a time; false when stopped by a signal. The ETA is the updates still
// to go at the wall time per update (evaluations included) of the cells finished so far, so
// a resumed cell's few remaining updates do not make the rest look short.
bool run_cells(const StudyDeck& study, const std::vector<QueuedCell>& queue, const StudyRunOptions& options,
               const std::string& stage_label, size_t done_before, size_t& failed, std::ostream& log) {
  // With --gpus, a cell per device at a time.
  const int requested = options.gpus.empty() ? options.jobs : int(options.gpus.size());
  const int jobs = std::max(1, std::min<int>(requested, int(std::max<size_t>(1, queue.size()))));
  std::vector<int> free_devices(options.gpus.rbegin(), options.gpus.rend());
  std::map<pid_t, int> device_of;
  const int cores = std::max(1, int(std::thread::hardware_concurrency())), ranks = options.ranks_per_cell;
  const int threads = std::max(1, cores / (jobs * ranks));
  std::map<pid_t, const QueuedCell*> running;
  size_t next = 0, done = done_before;
  int64_t steps_finished = 0, steps_left = 0;
  for (const auto& q : queue) steps_left += q.steps_to_go;
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  bool forwarded = false;
  log << progress_line(stage_label, done, 0, queue.size(), failed, -1) << std::endl;
  while (next < queue.size() || !running.empty()) {
    while (!stop_requested() && next < queue.size() && running.size() < size_t(jobs)) {
      const QueuedCell& q = queue[next++];
      const std::string log_file = study.output_dir + "/logs/" + q.cell->name + ".log";
      const int device = free_devices.empty() ? -1 : free_devices.back();
      if (device >= 0) free_devices.pop_back();
      const pid_t pid = start_cell(options.kmoe_train, q.args, log_file,
                                   CellLaunch{threads, jobs * ranks > 1, ranks, jobs * ranks > cores, device});
      running[pid] = &q;
      device_of[pid] = device;
      log << "study: started " << q.cell->name << " ("
          << (device >= 0 ? "device " + std::to_string(device) + ", " : std::string())
          << (ranks > 1 ? std::to_string(ranks) + " ranks x " : std::string()) << threads << " threads, log "
          << log_file << ")" << std::endl;
    }
    if (stop_requested() && !forwarded) {
      for (const auto& entry : running) stop_cell(entry.first, ranks);
      forwarded = true;
      next = queue.size();
    }
    int wstatus = 0;
    const pid_t pid = ::waitpid(-1, &wstatus, 0);
    if (pid < 0) continue;  // interrupted by a signal: forward it on the next pass
    const QueuedCell& q = *running.at(pid);
    running.erase(pid);
    if (device_of.at(pid) >= 0) free_devices.push_back(device_of.at(pid));
    device_of.erase(pid);
    int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    if (ranks > 1 && code == 1) code = exit_code_from_record(*q.cell, code);
    if (code == kExitComplete) ++done;
    if (code != kExitComplete && code != kExitStopped) ++failed;
    steps_finished += q.steps_to_go;
    steps_left -= q.steps_to_go;
    const bool complete = code == kExitComplete && read_cell_status(*q.cell).state == RunState::complete;
    log << "study: " << q.cell->name
        << (code == kExitComplete  ? (complete ? " complete" : " reached the stage's end")
            : code == kExitStopped ? " stopped"
                                   : " failed (exit " + std::to_string(code) + ")")
        << std::endl;
    const size_t pending = queue.size() - std::min(next, queue.size());
    const double eta = steps_finished > 0 ? elapsed() * double(steps_left) / double(steps_finished) : -1;
    log << progress_line(stage_label, done, running.size(), pending, failed, eta) << std::endl;
  }
  return !stop_requested();
}

}  // namespace

void check_ranks_per_cell(const std::vector<StudyCell>& cells, int ranks, const std::string& where) {
  for (const auto& cell : cells) {
    const std::string problem = rank_count_problem(int(cell.deck.train.grad_accum), ranks);
    require(problem.empty(), where + ": cell " + cell.name + ": " + problem);
  }
}

std::string cell_deck_path(const StudyDeck& study, const StudyCell& cell) {
  return study.output_dir + "/decks/" + cell.name + ".toml";
}

RunState study_cell_state(const StudyDeck& study, const StudyCell& cell, const CellStatus& status) {
  if (status.state != RunState::complete && status.state != RunState::running && status.state != RunState::failed &&
      !pruned_at(study, cell).empty()) {
    return RunState::pruned;
  }
  return status.state;
}

std::vector<Stage> stages_of(const StudyDeck& study) {
  if (!study.stages.empty()) return study.stages;
  Stage all;
  all.name = "all";
  return {all};
}

namespace {

// The update at which stage k ends for the cell.
int64_t stage_end(const Stage& stage, const StudyCell& cell) {
  return stage.until_step > 0 ? stage.until_step : cell.deck.train.max_steps;
}

// kmoe-train's arguments to take the cell to `until`: `mode` is "--resume" or "--overwrite".
std::vector<std::string> train_arguments(const StudyDeck& study, const StudyCell& cell, int64_t until,
                                         const char* mode) {
  std::vector<std::string> args = {cell_deck_path(study, cell), mode};
  if (until < cell.deck.train.max_steps) args.insert(args.end(), {"--until-step", std::to_string(until)});
  return args;
}

// The plan of a cell trained again from the start (--rerun-changed).
CellPlan fresh_start(const StudyDeck& study, const StudyCell& cell, size_t k) {
  CellPlan plan;
  plan.steps_to_go = stage_end(stages_of(study).at(k), cell);
  plan.args = train_arguments(study, cell, plan.steps_to_go, "--overwrite");
  return plan;
}

}  // namespace

CellPlan plan_cell(const StudyDeck& study, const StudyCell& cell, size_t k) {
  const Stage stage = stages_of(study).at(k);
  const auto status = read_cell_status(cell);
  const std::string pruned = pruned_at(study, cell);
  const int64_t until = stage_end(stage, cell);
  CellPlan plan;
  plan.running_pid = status.pid;
  if (status.state == RunState::complete || status.state == RunState::failed) {
    plan.why_not = to_string(status.state);
  } else if (!pruned.empty()) {
    plan.why_not = "pruned at the gate into stage " + pruned;
  } else if (status.state == RunState::stopped && status.step >= until && until < cell.deck.train.max_steps) {
    // At its stage's end. A run stopped at max_steps is not complete (killed while writing its
    // final record): --resume finishes it.
    plan.why_not = "at the end of stage " + stage.name + " (step " + std::to_string(until) + ")";
  }
  if (!plan.why_not.empty()) return plan;
  plan.args = train_arguments(study, cell, until, "--resume");
  plan.steps_to_go = std::max<int64_t>(1, until - status.step);
  return plan;
}

std::vector<std::pair<const StudyCell*, std::string>> changed_cells(const StudyDeck& study,
                                                                    const std::vector<StudyCell>& cells) {
  std::vector<std::pair<const StudyCell*, std::string>> changed;
  for (const auto& cell : cells) {
    // The deck the run itself recorded; a run killed before its first record, the cell's deck file.
    const RunPaths paths = run_paths(cell.deck);
    RunDeck then;
    if (const auto record = fs::exists(paths.record) ? paths.record : paths.partial; fs::exists(record)) {
      then = parse_run_deck_string(Hdf5Reader(record).string_attribute("/", "deck"), record);
    } else if (fs::exists(paths.checkpoint) && fs::exists(cell_deck_path(study, cell))) {
      then = load_run_deck(cell_deck_path(study, cell));
    } else {
      continue;
    }
    const std::string reason = resume_incompatibility(then, cell.deck, read_cell_status(cell).step);
    if (!reason.empty()) changed.emplace_back(&cell, reason);
  }
  return changed;
}

std::string changed_cells_message(const StudyDeck& study,
                                  const std::vector<std::pair<const StudyCell*, std::string>>& changed) {
  std::string message = study.source + ": " + std::to_string(changed.size()) +
                        " cell(s) started under other settings than the study deck now gives them:";
  for (const auto& [cell, reason] : changed) message += "\n  " + cell->name + ": " + reason.substr(0, reason.find(';'));
  return message +
         "\nRestore the study deck, or give `kmoe-study run` --rerun-changed to train these cells again from the "
         "start (their records are replaced).";
}

void write_study_files(const StudyDeck& study, const std::vector<StudyCell>& cells) {
  fs::create_directories(study.output_dir + "/decks");
  std::ostringstream manifest;
  manifest << "# kmoe study manifest: every cell, its deck and state, and every gate decision\n"
           << "# (rewritten as the study runs)\nstudy = " << toml_string(study.name)
           << "\nsource = " << toml_string(study.source) << "\n";
  for (const auto& cell : cells) {
    write_file_atomically(cell_deck_path(study, cell), to_toml(cell.deck), "cell deck");
    const auto status = read_cell_status(cell);
    manifest << "\n[[cells]]\nname = " << toml_string(cell.name) << "\ncondition = " << toml_string(cell.condition)
             << "\ndeck = " << toml_string(cell_deck_path(study, cell))
             << "\nstate = " << toml_string(to_string(study_cell_state(study, cell, status)))
             << "\nstep = " << status.step << "\n";
    for (const auto& [key, value] : cell.varied) manifest << "varied." << key << " = " << value << "\n";
  }
  for (const auto& stage : study.stages) {
    const std::string path = gate_file(study, stage);
    if (!stage.has_promote || !fs::exists(path)) continue;
    const auto gate = read_gate_file(path);
    for (const auto& d : gate.decisions) {
      manifest << "\n[[gates]]\nstage = " << toml_string(gate.stage) << "\nat_step = " << gate.at_step
               << "\ncondition = " << toml_string(d.condition) << "\npromoted = " << (d.promoted ? "true" : "false")
               << "\nreason = " << toml_string(d.reason) << "\nval_loss = " << d.val_loss
               << "\nexpert_cv = " << d.expert_cv << "\nruns = " << d.runs << "\n";
      if (!d.reference.empty()) manifest << "reference = " << toml_string(d.reference) << "\n";
    }
  }
  if (study.replicate) manifest << replication_rounds_toml(read_replication_rounds(study), "replication_rounds");
  write_file_atomically(study.output_dir + "/manifest.toml", manifest.str(), "study manifest");
}

void prepare_study(const StudyDeck& study, const std::vector<StudyCell>& cells, std::ostream& log) {
  write_study_files(study, cells);
  fs::create_directories(study.output_dir + "/logs");
  std::set<std::string> prepared;
  for (const auto& cell : cells) {
    if (!cell.deck.data.train_shard.empty() || stop_requested()) continue;
    if (prepared.insert(prepared_data_directory(cell.deck)).second) prepare_corpus(cell.deck, log);
  }
}

int run_study(const StudyDeck& study, const std::vector<StudyCell>& cells, const StudyRunOptions& options,
              std::ostream& log) {
  install_stop_handlers();
  fs::create_directories(study.output_dir);
  const RunLock study_lock({study.output_dir + "/study"},
                           "another kmoe-study run is running this study; wait for it (`kmoe-study status` shows "
                           "its progress)");
  // A cell trained under other settings is not that cell: never counted as it, never silently
  // described by a rewritten deck.
  std::set<std::string> rerun;
  if (const auto changed = changed_cells(study, cells); !changed.empty()) {
    if (!options.rerun_changed) throw Error(changed_cells_message(study, changed));
    log << "study: training again from the start (--rerun-changed):\n";
    for (const auto& [cell, reason] : changed) {
      log << "  " << cell->name << ": " << reason.substr(0, reason.find(';')) << "\n";
      rerun.insert(cell->name);
    }
  }
  prepare_study(study, cells, log);
  size_t failed = 0;
  const auto stages = stages_of(study);
  for (size_t k = 0; k < stages.size() && !stop_requested(); ++k) {
    const std::string label = stages.size() > 1 ? " stage " + stages[k].name : "";
    if (k > 0 && stages[k].has_promote) {
      const auto gate = stage_gate(study, cells, k);
      size_t promoted = 0;
      for (const auto& d : gate->decisions) promoted += d.promoted;
      log << "study: gate into stage " << stages[k].name << " at step " << gate->at_step << ": " << promoted << " of "
          << gate->decisions.size() << " conditions go on (reasons in " << gate_file(study, stages[k]) << ")\n";
    }
    std::vector<QueuedCell> queue;
    size_t done = 0, still_running = 0;
    for (const auto& cell : cells) {
      CellPlan plan = plan_cell(study, cell, k);
      if (k == 0 && rerun.count(cell.name)) plan = fresh_start(study, cell, k);
      if (!plan.args.empty() && plan.running_pid != 0) {
        ++still_running;
        log << "study: " << cell.name << " is still running (kmoe-train pid " << plan.running_pid
            << "); not started again\n";
        continue;
      }
      const bool failed_before = plan.why_not == to_string(RunState::failed);
      if (failed_before && k == 0) {
        ++failed;
        log << "study: " << cell.name << " failed earlier; not retried (see " << study.output_dir << "/logs)\n";
      }
      if (plan.args.empty() && !failed_before) ++done;
      if (!plan.args.empty()) queue.push_back(QueuedCell{&cell, std::move(plan.args), plan.steps_to_go});
    }
    if (!run_cells(study, queue, options, label, done, failed, log)) break;
    write_study_files(study, cells);
    if (still_running) {  // a later stage's gate needs their results
      log << "study: " << still_running << " cell(s) run under another process; run again when they end\n";
      return kExitStopped;
    }
  }
  write_study_files(study, cells);
  if (stop_requested()) return kExitStopped;
  return failed ? kExitFailed : kExitComplete;
}

}  // namespace kmoe
