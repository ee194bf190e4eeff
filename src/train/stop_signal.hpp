// SIGTERM / SIGINT / SIGHUP (Slurm's time limit, Ctrl-C, a closed terminal) only raise a flag;
// the training loop checks it after each update, checkpoints and exits cleanly. A second signal
// while the first is pending ends the process at once (the last checkpoint on disk stays the one
// to resume). With KMOE_STOP_WHEN_PID_ENDS=<pid> in the environment, that process ending counts as
// SIGTERM too: a study runner's multi-rank cells stop with a checkpoint when the runner dies
// (mpirun, signalled instead, would kill its ranks a second later).
#pragma once

namespace kmoe {

void install_stop_handlers();
bool stop_requested();
int stop_signal_number();  // the signal that asked to stop (0 if none)

}  // namespace kmoe
