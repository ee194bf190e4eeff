#include "train/stop_signal.hpp"

#include <unistd.h>

#include <csignal>

namespace kmoe {
namespace {
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int signal) {
  if (g_stop_signal != 0) _exit(128 + signal);
  g_stop_signal = signal;
}
}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGHUP, &action, nullptr);  // a closed terminal or dropped ssh session: stop with a checkpoint
}

bool stop_requested() { return g_stop_signal != 0; }
int stop_signal_number() { return g_stop_signal; }

}  // namespace kmoe
