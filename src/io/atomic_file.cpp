#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/crash_point.hpp"
#include "core/error.hpp"

namespace kmoe {
namespace {

bool write_all(int fd, const char* data, size_t size, const std::string& what) {
  size_t done = 0;
  // At most about half the file per write(), so the "-write" crash point finds a torn file.
  while (done < size) {
    if (done >= size / 2) crash_point(what + "-write");
    const size_t chunk = std::min<size_t>(size - done, std::max<size_t>(size / 2, 1) + 1);
    const ssize_t n = ::write(fd, data + done, chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += size_t(n);
  }
  return true;
}

// Temporaries of `path` left by writers that died mid-write (kill -9, a crash): any
// "<path>.<pid>.tmp" whose process is gone. A live writer's temporary is left alone.
void remove_stale_temporaries(const std::string& path) {
  const std::filesystem::path file(path);
  const auto parent = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  const std::string prefix = file.filename().string() + ".", suffix = ".tmp";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string pid_text = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::strtol(pid_text.c_str(), nullptr, 10);
    if (pid != long(::getpid()) && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
}

void sync_directory(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  const int dir = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir < 0) return;
  ::fsync(dir);
  ::close(dir);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes, const std::string& what) {
  remove_stale_temporaries(path);
  const std::string tmp = path + "." + std::to_string(::getpid()) + ".tmp";  // writers of one file may race
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error(path + ": cannot write the " + what + " (" + std::strerror(errno) + ")");
  bool ok = write_all(fd, bytes.data(), bytes.size(), what) && ::fsync(fd) == 0;
  int err = ok ? 0 : errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    throw Error(path + ": writing the " + what + " failed (" + std::strerror(err) +
                "); the previous file, if any, is unchanged");
  }
  crash_point(what + "-rename");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot rename " + tmp + " to " + path + " (" + std::strerror(err) + ")");
  }
  sync_directory(path);
}

}  // namespace kmoe
