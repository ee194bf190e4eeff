// Learning-rate and aux-coefficient schedules, as functions of the optimizer update index u
// (0-based) out of `total` updates.
#pragma once

#include <cstdint>
#include <string>

namespace kmoe {

struct LrScheduleSettings {
  double warmup_frac;
  std::string decay;  // cosine | linear | constant
  double min_lr_ratio;
  // Reproduce the research's effective schedule: its LambdaLR counted micro-batches in
  // max_steps but was stepped once per optimizer update, so warm-up spanned warmup_frac of
  // the micro-batch count in updates (20 % of updates at grad_accum 4), the first update had
  // LR 0 and the cosine ended near 0.91× peak.
  bool legacy;
  int64_t grad_accum;  // used by the legacy form only
};

// Multiplier of the peak LR for update u. Standard form: linear warm-up (u+1)/W over
// W = round(warmup_frac · total) updates, then decay from 1 to min_lr_ratio at the last update.
double lr_multiplier(const LrScheduleSettings& s, int64_t u, int64_t total);

struct AuxScheduleSettings {
  double start, end;
  double warmup_frac, decay_end_frac;
};

// Holds `start` while u ≤ round(warmup_frac·total), moves linearly to `end` by
// round(decay_end_frac·total), then holds `end`. Constant when start = end.
double aux_coefficient(const AuxScheduleSettings& s, int64_t u, int64_t total);

}  // namespace kmoe
