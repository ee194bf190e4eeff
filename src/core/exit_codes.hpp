// Exit codes of kmoe's programs, said once: the study runner and the Slurm scripts read them.
#pragma once

namespace kmoe {

constexpr int kExitComplete = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;     // a command line that cannot be run
constexpr int kExitStopped = 75;  // checkpointed on a signal (or still running elsewhere): run again to continue

}  // namespace kmoe
