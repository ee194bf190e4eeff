// One kmoe-train per run: an exclusive flock on "<file>.lock" beside each of the run's output
// files, held for the life of the object. The kernel drops it when the process ends, however
// it ends, so a killed run leaves no stale lock (the small .lock file itself stays).
#pragma once

#include <string>
#include <vector>

namespace kmoe {

// The pid holding the flock on `lock_file`, or 0 when none does. Read from /proc/locks, so the
// probe takes no lock and writes nothing: `kmoe-study status` must not stop a run from starting.
int lock_holder(const std::string& lock_file);

class RunLock {
 public:
  // Throws kmoe::Error naming the lock and the process holding it; `busy` says what that means.
  explicit RunLock(const std::vector<std::string>& files,
                   const std::string& busy =
                       "another kmoe-train is running with the same output files; wait for it "
                       "or give this run another run.name");
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  std::vector<int> fds_;
};

}  // namespace kmoe
