#include "study/slurm_scripts.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/error.hpp"
#include "core/exit_codes.hpp"
#include "io/atomic_file.hpp"
#include "study/study_runner.hpp"

namespace kmoe {
namespace fs = std::filesystem;

namespace {

std::string resources(const SlurmSettings& s, bool per_cell) {
  std::ostringstream out;
  if (!s.partition.empty()) out << "#SBATCH --partition=" << s.partition << "\n";
  if (!s.account.empty()) out << "#SBATCH --account=" << s.account << "\n";
  if (!s.time.empty()) out << "#SBATCH --time=" << s.time << "\n";
  if (!s.mem.empty()) out << "#SBATCH --mem=" << s.mem << "\n";
  if (s.cpus_per_task > 0) out << "#SBATCH --cpus-per-task=" << s.cpus_per_task << "\n";
  if (per_cell && s.gpus_per_task > 0) out << "#SBATCH --gpus-per-task=" << s.gpus_per_task << "\n";
  return out.str();
}

// Single quotes for the shell ('\'' for a quote inside).
std::string shell_word(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::vector<SlurmJobScript> slurm_scripts(const StudyDeck& study, size_t cell_count, const std::string& kmoe_study,
                                          const std::string& study_path) {
  const std::string dir = study.output_dir + "/slurm";
  // #SBATCH lines are not shell lines: sbatch splits them at white space and takes no quotes.
  require(dir.find_first_of(" \t\n\r'\"\\$`%") == std::string::npos,
          study.source + ": study.output_dir '" + dir.substr(0, dir.size() - 6) +
              "' holds white space, a quote, '\\', '$', '`' or '%', which #SBATCH lines cannot carry; move the "
              "study to a plainer path for Slurm");
  const std::string program = shell_word(kmoe_study) + " ", deck = shell_word(study_path);
  std::vector<SlurmJobScript> scripts;
  SlurmJobScript prepare;
  prepare.path = dir + "/prepare.sbatch";
  prepare.text = "#!/bin/bash\n# Study " + study.name + ": prepares the data once, before any cell starts.\n" +
                 "#SBATCH --job-name=" + study.name + "-prepare\n#SBATCH --output=" + dir + "/prepare-%j.out\n" +
                 "#SBATCH --ntasks=1\n" + resources(study.slurm, false) + "exec " + program + "prepare " + deck + "\n";
  scripts.push_back(prepare);
  const auto stages = stages_of(study);
  const int64_t ranks = study.slurm.ranks_per_cell;
  for (size_t k = 0; k < stages.size(); ++k) {
    const std::string label = std::to_string(k) + "-" + stages[k].name;
    std::ostringstream text;
    text << "#!/bin/bash\n# Study " << study.name << ", stage " << stages[k].name << ": one array task per cell.\n"
         << "# SIGTERM reaches kmoe-train (" << kSlurmSignalSeconds << " s before the time limit, or scancel "
         << "--signal=TERM),\n# which checkpoints and exits " << kExitStopped
         << "; the task then requeues itself and the cell resumes.\n"
         << "#SBATCH --job-name=" << study.name << "-" << stages[k].name << "\n"
         << "#SBATCH --array=0-" << cell_count - 1
         << (study.slurm.max_parallel > 0 ? "%" + std::to_string(study.slurm.max_parallel) : "") << "\n"
         << "#SBATCH --output=" << dir << "/" << label << "-%A_%a.out\n#SBATCH --open-mode=append\n"
         << "#SBATCH --ntasks=" << ranks << "\n#SBATCH --requeue\n#SBATCH --signal=TERM@" << kSlurmSignalSeconds << "\n"
         << resources(study.slurm, true)
         << "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1} OMP_WAIT_POLICY=PASSIVE OMP_PROC_BIND=false\n"
         // With several ranks the cell itself starts them (srun --mpi=pmix kmoe-train), once.
         << (ranks > 1 ? std::string() : std::string("srun --ntasks=1 ")) << program << "cell " << deck << " --stage "
         << k << " --index \"$SLURM_ARRAY_TASK_ID\"\n"
         << "code=$?\n"
         << "if [ \"$code\" -eq " << kExitStopped << " ]; then\n"
         << "  echo \"cell stopped with a checkpoint: requeueing ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n"
         << "  scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n"
         << "fi\nexit \"$code\"\n";
    scripts.push_back(SlurmJobScript{dir + "/stage-" + label + ".sbatch", text.str(), k == 0 ? "afterok" : "afterany"});
  }
  if (study.replicate) {
    SlurmJobScript round;
    round.path = dir + "/replicate.sbatch";
    round.text = "#!/bin/bash\n# Study " + study.name +
                 ": a replication round ([replicate]) after the cells. It decides " +
                 "from their records\n# whether to add seeds; if so it submits the study again (its complete cells' " +
                 "tasks end at once),\n# with another round after it.\n#SBATCH --job-name=" + study.name +
                 "-replicate\n#SBATCH --output=" + dir + "/replicate-%j.out\n#SBATCH --ntasks=1\n" +
                 resources(study.slurm, false) + "exec " + program + "replicate " + deck + "\n";
    round.depends = "afterany";
    scripts.push_back(round);
  }
  return scripts;
}

std::vector<std::string> write_and_submit(const std::vector<SlurmJobScript>& scripts, bool submit) {
  std::vector<std::string> ids;
  for (const auto& script : scripts) {
    fs::create_directories(fs::path(script.path).parent_path());
    write_file_atomically(script.path, script.text, "Slurm script");
    ::chmod(script.path.c_str(), 0755);
    if (!submit) continue;
    std::string command = "sbatch --parsable";
    if (!script.depends.empty()) command += " --dependency=" + script.depends + ":" + ids.back();
    command += " " + shell_word(script.path) + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    require(pipe != nullptr, "cannot run sbatch");
    std::string output;
    char buffer[256];
    while (std::fgets(buffer, sizeof(buffer), pipe)) output += buffer;
    const int status = ::pclose(pipe);
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    require(status == 0 && !output.empty(), "sbatch " + script.path + " failed: " + output);
    ids.push_back(output.substr(0, output.find(';')));  // "id;cluster" on federated clusters
  }
  return ids;
}

}  // namespace kmoe
