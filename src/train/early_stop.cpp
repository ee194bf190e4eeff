#include "train/early_stop.hpp"

#include <cmath>
#include <sstream>

namespace kmoe {

namespace {

std::vector<double> tail(const std::vector<double>& v, int64_t n) {
  return std::vector<double>(v.end() - std::min<int64_t>(n, int64_t(v.size())), v.end());
}

}  // namespace

double least_squares_slope(const std::vector<double>& y) {
  const double n = double(y.size());
  if (y.size() < 2) return 0;
  double mean_y = 0;
  for (double v : y) mean_y += v / n;
  const double mean_x = (n - 1) / 2;
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    sxy += (double(i) - mean_x) * (y[i] - mean_y);
    sxx += (double(i) - mean_x) * (double(i) - mean_x);
  }
  return sxy / sxx;
}

std::string early_stop_reason(const EarlyStopSection& rule, const StopEvidence& e) {
  const int64_t k = rule.patience;
  if (k <= 0 || int64_t(e.val_loss.size()) <= k || int64_t(e.train_loss.size()) < rule.slope_window) return "";
  // 1. No improvement > min_delta in the last k evaluations over the best before them.
  const size_t first_recent = e.val_loss.size() - size_t(k);
  double best_before = e.val_loss[0];
  size_t best_index = 0;
  for (size_t i = 1; i < first_recent; ++i) {
    if (e.val_loss[i] < best_before) best_before = e.val_loss[i], best_index = i;
  }
  for (size_t i = first_recent; i < e.val_loss.size(); ++i) {
    if (e.val_loss[i] < best_before - rule.min_delta) return "";
  }
  // 2. A flat train loss.
  const double slope = least_squares_slope(tail(e.train_loss, rule.slope_window));
  if (slope < -rule.max_slope) return "";
  // 3. Plateaued routing.
  const double span = double(rule.slope_window - 1);
  const double entropy_change =
      e.router_entropy.empty() ? 0 : least_squares_slope(tail(e.router_entropy, rule.slope_window)) * span;
  const double load_change =
      e.max_load_frac.empty() ? 0 : least_squares_slope(tail(e.max_load_frac, rule.slope_window)) * span;
  if (std::abs(entropy_change) > rule.routing_tolerance || std::abs(load_change) > rule.routing_tolerance) return "";
  std::ostringstream why;
  why << "early stop at step " << e.eval_steps.back() << ": val loss not below " << best_before << " (best, step "
      << e.eval_steps[best_index] << ") by more than " << rule.min_delta << " for " << k
      << " evaluations; train-loss slope " << slope << " per step over " << rule.slope_window << " steps (threshold -"
      << rule.max_slope << ")";
  if (!e.router_entropy.empty()) {
    why << "; router entropy changed " << entropy_change << ", max-load fraction " << load_change
        << " over the window (tolerance " << rule.routing_tolerance << ")";
  }
  return why.str();
}

}  // namespace kmoe
