#include "core/crash_point.hpp"

#include <csignal>
#include <cstdlib>

namespace kmoe {
namespace {

struct CrashPlan {
  std::string name;
  long at = 0;
  long seen = 0;
};

CrashPlan& plan() {
  static CrashPlan p = [] {
    CrashPlan c;
    const char* spec = std::getenv("KMOE_CRASH_AT");
    if (!spec) return c;
    const std::string text(spec);
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return c;
    c.name = text.substr(0, colon);
    c.at = std::strtol(text.c_str() + colon + 1, nullptr, 10);
    return c;
  }();
  return p;
}

}  // namespace

void crash_point(const std::string& name) {
  CrashPlan& p = plan();
  if (p.at <= 0 || name != p.name) return;
  if (++p.seen == p.at) std::raise(SIGKILL);
}

}  // namespace kmoe
