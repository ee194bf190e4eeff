// Activations one block keeps from forward for backward, and the shared backward scratch.
// Allocated once for a token count; reused every step.
#pragma once

#include "core/views.hpp"
#include "kernels/causal_attention.hpp"
#include "kernels/expert_dispatch.hpp"
#include "kernels/router.hpp"
#include "kernels/router_losses.hpp"
#include "model/model_config.hpp"

namespace kmoe {

// The attention of `tokens` tokens (whole sequences) under config c.
inline kernels::AttentionShape attention_shape(const ModelConfig& c, int64_t tokens) {
  return {int(tokens / c.seq_len), c.seq_len, c.n_heads, c.head_dim()};
}

// The shared experts' forward (one FFN of their summed width S), empty without shared experts.
template <class T>
struct SharedExpertActivations {
  View2<T> hidden, activated;  // [N, S] before SiLU, Drop(SiLU(hidden))
  View1<uint8_t> kept;         // the dropout mask of `activated`
  View2<T> out;                // [N, D]
  View2<T> gate;               // [N, 1] the gate logits, then their sigmoids (shared_gate = "sigmoid")
};

// Their backward scratch.
template <class T>
struct SharedExpertGradients {
  View2<T> dout, dactivated, dhidden, dgate;
};

template <class T>
struct BlockActivations {
  View2<T> normed_attn;  // RMSNorm1 output [N, D]
  View1<T> rstd_attn;
  View2<T> q, k, v;           // after RoPE
  View2<T> attn_out;          // [N, D] before the output projection
  View2<T> attn_lse;          // [N, heads]
  View1<uint32_t> attn_kept;  // the attention-probability dropout mask (AttentionDropout::kept)
  View2<T> x_mid;             // residual after the attention branch
  View2<T> normed_ffn;        // RMSNorm2 output
  View1<T> rstd_ffn;
  // Feed-forward: rows are (token, slot) assignments grouped by expert (MoE) or tokens (dense).
  kernels::RouterState<T> router;
  kernels::ExpertAssignment assignment;
  View2<T> kept_gates;                    // [N, slots] the gates after a capacity drop (moe.renorm_after_drop)
  kernels::BalanceStatistics<T> balance;  // f and P̄ of the balancing loss
  View1<double> router_summary;           // offsets, mean probabilities, losses (RouterSummary)
  HostView1<double> host_router_summary;  // its copy: the layer's one host synchronisation
  View2<T> grouped_in;                    // [rows, D]
  View2<T> hidden;                        // [rows, F] before SiLU
  View2<T> activated;                     // [rows, F] Drop(SiLU(hidden)), kept for the weight gradient
  View1<uint8_t> activation_kept;         // the dropout mask of `activated`, one bit per element
  View2<T> expert_out;                    // [rows, D]
  SharedExpertActivations<T> shared;

  BlockActivations() = default;
  BlockActivations(const ModelConfig& c, int tokens);
  // The same buffers for fewer tokens (first rows of each).
  BlockActivations first_tokens(const ModelConfig& c, int tokens) const;
};

template <class T>
struct BackwardScratch {
  View2<T> dx, dbranch, dnormed, dq, dk, dv, dattn;
  View2<T> dgates, dlogits, dexpert_out, dhidden, dactivated, dgrouped;
  SharedExpertGradients<T> shared;

  BackwardScratch() = default;
  BackwardScratch(const ModelConfig& c, int tokens);
  BackwardScratch first_tokens(const ModelConfig& c, int tokens) const;
};

}  // namespace kmoe
