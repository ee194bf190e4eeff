// Fault injection for the crash tests: KMOE_CRASH_AT="name:N" makes the process kill itself
// with SIGKILL at the N-th time it passes crash_point("name"). Unset, a crash point costs one
// branch. Names: "step", "eval", "<what>-write" (half of a file written), "<what>-rename"
// (file complete, before its rename), with <what> = checkpoint, record, weights, final-record.
#pragma once

#include <string>

namespace kmoe {

void crash_point(const std::string& name);

}  // namespace kmoe
