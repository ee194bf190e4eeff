// The record's datasets (docs/hdf5-schema.md), named once for the writer (train/run_record.cpp)
// and every C++ reader (the trainer's early-stop rule, the study's cell status).
#pragma once

namespace kmoe::record {

inline constexpr char kTrainStep[] = "/train/step";
inline constexpr char kTrainTokens[] = "/train/tokens";
inline constexpr char kTrainLrMuon[] = "/train/lr_muon";
inline constexpr char kTrainLrAdamw[] = "/train/lr_adamw";
inline constexpr char kTrainCeLoss[] = "/train/ce_loss";
inline constexpr char kTrainLbLoss[] = "/train/lb_loss";
inline constexpr char kTrainZLoss[] = "/train/z_loss";
inline constexpr char kTrainTotalLoss[] = "/train/total_loss";
inline constexpr char kTrainAccuracy[] = "/train/accuracy";
inline constexpr char kTrainAuxCoef[] = "/train/aux_coef";
inline constexpr char kTrainGradNorm[] = "/train/grad_norm";
inline constexpr char kTrainMsPerStep[] = "/train/ms_per_step";
inline constexpr char kTrainTokensPerS[] = "/train/tokens_per_s";
inline constexpr char kTrainNonfinite[] = "/train/nonfinite";

inline constexpr char kRouterLoad[] = "/router/load";
inline constexpr char kRouterImportance[] = "/router/importance";
inline constexpr char kRouterEntropy[] = "/router/entropy";
inline constexpr char kRouterDropped[] = "/router/dropped";
inline constexpr char kRouterUnrouted[] = "/router/unrouted_tokens";
inline constexpr char kRouterMaxLoadFrac[] = "/router/max_load_frac";
inline constexpr char kRouterMinLoadFrac[] = "/router/min_load_frac";
inline constexpr char kRouterLbLoss[] = "/router/lb_loss";
inline constexpr char kRouterZLoss[] = "/router/z_loss";
inline constexpr char kRouterRoutingBias[] = "/router/routing_bias";

inline constexpr char kEvalStep[] = "/eval/step";
inline constexpr char kEvalValLoss[] = "/eval/val_loss";
inline constexpr char kEvalValAccuracy[] = "/eval/val_accuracy";
inline constexpr char kEvalValPpl[] = "/eval/val_ppl";
inline constexpr char kEvalBestValPpl[] = "/eval/best_val_ppl";
inline constexpr char kEvalSeconds[] = "/eval/seconds";
inline constexpr char kEvalExpertCv[] = "/eval/expert_cv";
inline constexpr char kEvalExpertCvMean[] = "/eval/expert_cv_mean";
inline constexpr char kEvalRouterEntropy[] = "/eval/router_entropy";
inline constexpr char kEvalLoad[] = "/eval/load";
inline constexpr char kEvalRoutingChange[] = "/eval/routing_change";
inline constexpr char kEvalCoactivation[] = "/eval/coactivation";

}  // namespace kmoe::record
