#include "train/progress_reporter.hpp"

#include <cstdio>
#include <string>

namespace kmoe {

ProgressReporter::ProgressReporter(std::ostream& out, bool terminal, int64_t log_every, int64_t total_steps)
    : out_(out), terminal_(terminal), log_every_(log_every), total_(total_steps) {}

void ProgressReporter::step(int64_t step, double loss, double tokens_per_s, double eta) {
  if (!terminal_ && step % log_every_ != 0 && step != total_) return;
  char text[160];
  std::snprintf(text, sizeof(text), "step %lld/%lld  loss %.4f  %.0f tok/s  ETA %02d:%02d:%02d",
                static_cast<long long>(step), static_cast<long long>(total_), loss, tokens_per_s, int(eta) / 3600,
                int(eta) / 60 % 60, int(eta) % 60);
  if (terminal_) {
    out_ << "\r" << text << "\x1b[K" << std::flush;
    pending_line_ = true;
  } else {
    out_ << text << "\n" << std::flush;
  }
}

void ProgressReporter::line(const std::string& text) {
  if (pending_line_) out_ << "\n";
  pending_line_ = false;
  out_ << text << "\n" << std::flush;
}

}  // namespace kmoe
