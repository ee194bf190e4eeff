#include "train/run_lock.hpp"

#include "core/error.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace kmoe {

RunLock::RunLock(const std::vector<std::string>& files) {
  for (const auto& file : files) {
    const std::string path = file + ".lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(path + ": cannot create the run's lock file (" + std::strerror(errno) + ")");
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      char holder[32] = {0};
      const ssize_t n = ::pread(fd, holder, sizeof(holder) - 1, 0);
      ::close(fd);
      for (int held : fds_) ::close(held);
      throw Error(path + ": another kmoe-train" + (n > 0 ? " (pid " + std::string(holder, size_t(n)) + ")" : "") +
                  " is running with the same output files; wait for it or give this run another run.name");
    }
    const std::string pid = std::to_string(::getpid());
    if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
    fds_.push_back(fd);
  }
}

RunLock::~RunLock() {
  for (int fd : fds_) ::close(fd);
}

}  // namespace kmoe
