#include "train/stop_signal.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>

namespace kmoe {
namespace {
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int signal) {
  if (g_stop_signal != 0) _exit(128 + signal);
  g_stop_signal = signal;
}
// Whether the process named by KMOE_STOP_WHEN_PID_ENDS has ended (gone, or a zombie).
bool watched_process_ended() {
  static const char* const watched = std::getenv("KMOE_STOP_WHEN_PID_ENDS");
  if (watched == nullptr) return false;
  std::ifstream stat("/proc/" + std::string(watched) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const auto close = line.rfind(')');  // "pid (command) state …"
  return close == std::string::npos || line.find(" Z ", close) == close + 1;
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

bool stop_requested() {
  if (g_stop_signal == 0 && watched_process_ended()) g_stop_signal = SIGTERM;
  return g_stop_signal != 0;
}
int stop_signal_number() { return g_stop_signal; }

}  // namespace kmoe
