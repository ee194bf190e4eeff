// Writing a file so that a crash or a full disk at any instant leaves either the old file or
// the new one, never a torn one: "<path>.<pid>.tmp" is written, fsync'd and renamed over <path>,
// and the directory is fsync'd. On failure the temporary is removed and kmoe::Error names
// the file and the system's reason (e.g. "No space left on device"); a temporary of a writer
// that was killed mid-write is removed by the next write of the same file.
#pragma once

#include <string>

namespace kmoe {

// `what` names the file's role in crash points and messages ("checkpoint", "record", …).
void write_file_atomically(const std::string& path, const std::string& bytes, const std::string& what);

}  // namespace kmoe
