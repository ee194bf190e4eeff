// The stop rule (deck [early_stop]): at an evaluation, a run stops early when all three hold:
//  1. the validation loss has not improved on its best by more than min_delta for `patience`
//     consecutive evaluations;
//  2. the train loss is flat: its least-squares slope over the last slope_window steps is
//     above -max_slope (falling by less than max_slope per step);
//  3. routing has plateaued: the fitted change over that window (slope × (window − 1)) of the
//     layer-mean router entropy and of the layer-mean max-load fraction is within
//     ±routing_tolerance (dense models: no routing, the condition holds).
#pragma once

#include <string>
#include <vector>

#include "io/run_deck.hpp"

namespace kmoe {

struct StopEvidence {
  std::vector<int64_t> eval_steps;
  std::vector<double> val_loss;        // one per evaluation
  std::vector<double> train_loss;      // one per step
  std::vector<double> router_entropy;  // one per step (empty for dense models)
  std::vector<double> max_load_frac;   // one per step (empty for dense models)
};

// "" to go on; otherwise why the run stops, with the numbers that decided it.
std::string early_stop_reason(const EarlyStopSection& rule, const StopEvidence& evidence);

// Least-squares slope of y against 0, 1, …, n−1 (0 for fewer than two points).
double least_squares_slope(const std::vector<double>& y);

}  // namespace kmoe
