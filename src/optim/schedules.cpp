#include "optim/schedules.hpp"

#include <algorithm>
#include <cmath>

namespace kmoe {

namespace {
constexpr double kPi = 3.14159265358979323846;

double decay_shape(const std::string& decay, double progress, double floor) {
  if (decay == "constant") return 1.0;
  if (decay == "linear") return 1.0 - (1.0 - floor) * progress;
  return floor + (1.0 - floor) * 0.5 * (1.0 + std::cos(kPi * progress));
}
}  // namespace

double lr_multiplier(const LrScheduleSettings& s, int64_t u, int64_t total) {
  if (s.legacy) {
    const int64_t micro_total = total * s.grad_accum;
    const int64_t warmup = static_cast<int64_t>(s.warmup_frac * micro_total);
    if (u < warmup) return double(u) / double(warmup);
    const double progress = double(u - warmup) / double(std::max<int64_t>(1, micro_total - warmup));
    return decay_shape(s.decay, progress, s.min_lr_ratio);
  }
  const int64_t warmup = std::llround(s.warmup_frac * total);
  if (u < warmup) return double(u + 1) / double(warmup);
  const double progress = double(u - warmup) / double(std::max<int64_t>(1, total - 1 - warmup));
  return decay_shape(s.decay, std::min(1.0, progress), s.min_lr_ratio);
}

double aux_coefficient(const AuxScheduleSettings& s, int64_t u, int64_t total) {
  if (s.start == s.end) return s.start;
  const int64_t hold = std::llround(s.warmup_frac * total);
  const int64_t end = std::llround(s.decay_end_frac * total);
  if (u <= hold) return s.start;
  if (u >= end) return s.end;
  return s.start + (s.end - s.start) * double(u - hold) / double(end - hold);
}

}  // namespace kmoe
