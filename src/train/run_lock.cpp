#include "train/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>

#include "core/error.hpp"

namespace kmoe {

int lock_holder(const std::string& lock_file) {
  struct stat st {};
  if (::stat(lock_file.c_str(), &st) != 0) return 0;
  // Lines like "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF" (major:minor in hex).
  std::ostringstream id;
  id << std::hex << std::setfill('0') << std::setw(2) << major(st.st_dev) << ":" << std::setw(2) << minor(st.st_dev)
     << ":" << std::dec << st.st_ino;
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string number, kind, mode, access, file;
    int pid = 0;
    if (!(fields >> number >> kind) || (kind != "FLOCK" && kind != "POSIX" && kind != "OFDLCK")) continue;
    if (!(fields >> mode >> access >> pid >> file)) continue;
    if (file == id.str()) return pid;
  }
  return 0;
}

RunLock::RunLock(const std::vector<std::string>& files, const std::string& busy) {
  for (const auto& file : files) {
    const std::string path = file + ".lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(path + ": cannot create the run's lock file (" + std::strerror(errno) + ")");
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      char holder[32] = {0};
      const ssize_t n = ::pread(fd, holder, sizeof(holder) - 1, 0);
      ::close(fd);
      for (int held : fds_) ::close(held);
      throw Error(path + (n > 0 ? " is held by pid " + std::string(holder, size_t(n)) : " is held") + ": " + busy);
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
