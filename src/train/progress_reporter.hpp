// Training progress: one updating line on a terminal, plain periodic lines otherwise.
#pragma once

#include <cstdint>
#include <ostream>

namespace kmoe {

class ProgressReporter {
 public:
  ProgressReporter(std::ostream& out, bool terminal, int64_t log_every, int64_t total_steps);
  void step(int64_t step, double loss, double tokens_per_s, double eta_seconds);
  void line(const std::string& text);  // a message that must not be overwritten

 private:
  std::ostream& out_;
  bool terminal_;
  int64_t log_every_, total_;
  bool pending_line_ = false;
};

}  // namespace kmoe
