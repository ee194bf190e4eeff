// The one place where deck values become internal settings. The internal settings structs hold
// no defaults of their own: every default is the deck's (io/run_deck.hpp), so code that needs
// the defaults (tests, benchmarks) starts from RunDeck{} and overrides what it needs.
#pragma once

#include <cstdint>

#include "io/run_deck.hpp"
#include "model/model_config.hpp"
#include "model/moe_transformer.hpp"
#include "optim/hybrid_optimizer.hpp"
#include "optim/schedules.hpp"

namespace kmoe {

ModelConfig model_config_from_deck(const RunDeck& deck);
HybridOptimizerSettings optimizer_settings_from_deck(const RunDeck& deck);
LrScheduleSettings lr_schedule_from_deck(const RunDeck& deck);
AuxScheduleSettings load_balancing_schedule_from_deck(const RunDeck& deck);

// A training micro-batch: noise and dropout from run.seed and the micro-batch counter, the
// load-balancing coefficient in force (scheduled), z-loss, gradients scaled by 1 / grad_accum.
StepOptions training_step_options(const RunDeck& deck, int64_t micro_batch, double lb_weight);
// An evaluation forward: no noise, no dropout, no auxiliary losses, no gradient.
StepOptions evaluation_step_options();

}  // namespace kmoe
