// One kmoe-train per run: an exclusive flock on "<file>.lock" beside each of the run's output
// files, held for the life of the object. The kernel drops it when the process ends, however
// it ends, so a killed run leaves no stale lock (the small .lock file itself stays).
#pragma once

#include <string>
#include <vector>

namespace kmoe {

class RunLock {
 public:
  // Throws kmoe::Error naming the lock and the process holding it.
  explicit RunLock(const std::vector<std::string>& files);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  std::vector<int> fds_;
};

}  // namespace kmoe
