// The decoder-only MoE transformer: host orchestration of the kernels in src/kernels.
//   x = √D · Emb[tokens] → dropout
//   per block: x += Drop(Attn(RMSNorm(x)));  x += Drop(FFN(RMSNorm(x)))   (FFN = MoE or dense)
//   logits = Drop(RMSNorm(x)) · Embᵀ  (tied head), loss = CE + lb_w·Σ_l lb_l + z_w·Σ_l z_l
// forward() in training mode also computes the head's gradient (the softmax is at hand) and
// keeps what backward() needs; backward() adds ∂loss/∂θ · grad_scale into params().grads().
#pragma once

#include <cstdint>
#include <vector>

#include "core/views.hpp"
#include "data/token_batch.hpp"
#include "kernels/causal_attention.hpp"
#include "kernels/cross_entropy.hpp"
#include "kernels/rope.hpp"
#include "kernels/sinkhorn.hpp"
#include "kernels/token_grouping.hpp"
#include "model/layer_buffers.hpp"
#include "model/model_config.hpp"
#include "model/parameter_registry.hpp"

namespace kmoe {

struct StepOptions {
  bool training;
  uint64_t seed;      // run seed (router noise, dropout)
  uint64_t rng_step;  // micro-batch counter: fresh noise / masks each micro-batch
  double lb_weight;   // load-balancing coefficient in force
  double z_weight;
  double grad_scale;       // e.g. 1 / grad_accum
  bool first_micro_batch;  // of an optimizer update: the global-batch balancing counts restart
};

struct LayerRouterStats {
  std::vector<int64_t> expert_tokens;  // (token, slot) assignments per expert
  std::vector<double> mean_prob;       // P̄ per expert
  double entropy = 0, load_balancing = 0, z_loss = 0;
  int64_t dropped = 0;   // assignments dropped by the capacity
  int64_t unrouted = 0;  // tokens none of whose assignments was kept
};

struct ForwardResult {
  double cross_entropy = 0;   // mean over tokens
  double load_balancing = 0;  // the layers' lb_l combined as moe.load_balancing_layers says (unweighted)
  double z_loss = 0;          // Σ_l z_l (unweighted)
  double total_loss = 0;      // cross_entropy + lb_weight·load_balancing + z_weight·z_loss
  int64_t correct = 0;        // argmax hits
  int64_t tokens = 0;
  std::vector<LayerRouterStats> layers;
};

template <class T>
class MoeTransformer {
 public:
  MoeTransformer(const ModelConfig& config, uint64_t seed);

  const ModelConfig& config() const { return config_; }
  ParameterSet<T>& params() { return params_; }
  const ParameterSet<T>& params() const { return params_; }

  ForwardResult forward(const TokenBatch& batch, const StepOptions& options);
  void backward();

  // Aux-loss-free balancing: each layer's per-expert bias, added to the selection scores only
  // (gates still come from the unbiased scores), moves by `rate` toward balance after an update:
  // b_e += rate · sign(mean load − load_e), the steps re-centred to zero mean when `centre`.
  void update_routing_bias(const ForwardResult& update, double rate, bool centre);
  std::vector<double> routing_bias() const;  // [layer · expert]
  // moe.routing = "hash": the token-id → experts table [vocab · top_k] (kernels/hash_routing), set
  // before the first forward.
  void set_hash_table(const std::vector<int>& table);
  // The last forward's tokens, and which experts layer `layer` routed each to (kernels/routing_probe).
  int last_tokens() const { return step_.tokens; }
  void routed_pairs(int layer, const View2<uint8_t>& routed) const;
  void set_routing_bias(const std::vector<double>& values);

 private:
  // Each expert's matrices, in their order in the registry (expert e's follow expert e − 1's).
  enum class ExpertMatrix { w1, w2, count };
  struct BlockParams {
    int attn_norm, wq, wk, wv, wo, ffn_norm, router, first_expert, ffn_w1, ffn_w2;
    int shared_w1, shared_w2, shared_gate;  // −1 without shared experts (or without their gate)
    int expert(int e, ExpertMatrix which) const { return first_expert + e * int(ExpertMatrix::count) + int(which); }
  };
  void ensure_buffers(int tokens);
  uint64_t dropout_stream(int layer, int site) const;
  // Dropout at one of the six sites (no-op in evaluation or at p = 0); the same call on a
  // gradient is the backward.
  // Residual-branch dropout: the forward draws the mask and records it, the backward reuses it.
  void apply_dropout(const View2<T>& x, int layer, int site) const;
  void apply_dropout_backward(const View2<T>& x, int layer, int site) const;
  View1<uint8_t> dropout_kept(int layer, int site) const;
  double dropout_probability() const { return step_.options.training ? config_.dropout : 0.0; }
  // blocks_[layer].activated = Drop(SiLU(hidden)).
  void expert_activation(int layer);
  kernels::AttentionDropout attention_dropout(int layer) const;
  void attention_forward(int layer, const View2<T>& x);
  void attention_backward(int layer);
  void ffn_forward(int layer, LayerRouterStats& stats);
  // The router's forward and the assignment of rows to experts, for each moe.routing.
  void route_tokens(int layer);
  // The gates the experts' outputs are combined with: the router's, or its kept ones renormalised.
  View2<T> combined_gates(int layer) const;
  void ffn_backward(int layer);
  // The layers' balancing losses combined; for "pooled" also the layers' mean f on the device.
  double combined_load_balancing(const ForwardResult& result);
  // moe.load_balancing_scope = "global_batch": adds this micro-batch's f to the update's running
  // sums and returns the layer's loss with their mean f (P̄ stays this micro-batch's).
  double global_load_balancing(int layer);
  // The f of layer `layer` that its router backward takes.
  View2<T> balance_fractions(int layer) const;
  // The shared experts: their output joins rows_.ffn_out; the backward takes ∂L/∂ffn_out from
  // scratch.dbranch (leaving ∂L/∂routed there) and, after the routed experts' backward, adds their
  // input gradient into scratch.dnormed.
  void shared_experts_forward(int layer);
  void shared_experts_mix_backward(int layer);
  void shared_experts_backward(int layer);
  int expert_capacity() const;  // rows each expert keeps (0 = dropless)
  // The experts' products of one layer as one grouped call: rows of `a` (or, transposed, its
  // columns) and of `c` follow the layer's expert offsets (capacity applied).
  enum class ExpertProduct { forward, input_grad, weight_grad };
  void expert_products(int layer, ExpertMatrix which, ExpertProduct product, const View2<T>& a, const View2<T>& c);
  View2<T> expert_matrix(int layer, int expert, ExpertMatrix which) const;
  View2<T> expert_matrix_grad(int layer, int expert, ExpertMatrix which) const;

  // Where each tensor is in params_ (llm.c's ParameterTensors).
  struct ParameterIndices {
    int tok_emb, final_norm;
    std::vector<BlockParams> blocks;  // [layer] (shared blocks repeat one entry)
  };
  // Everything whose rows follow the tokens (llm.c's ActivationTensors): allocated for the largest
  // token count seen, and a smaller batch (the last evaluation batch) works on their first rows.
  struct TokenRowBuffers {
    std::vector<View2<T>> residual;  // x entering block l (l = 0..L), [N, D]
    std::vector<BlockActivations<T>> blocks;
    View2<T> ffn_out, final_normed, dfinal;
    View1<T> final_rstd;
    BackwardScratch<T> scratch;

    TokenRowBuffers() = default;
    TokenRowBuffers(const ModelConfig& c, int tokens);
    TokenRowBuffers first_tokens(const ModelConfig& c, int tokens) const;
  };
  // Scratch of the kernels, sized for the largest token count.
  struct Workspaces {
    kernels::CrossEntropyScratch<T> cross_entropy;
    View1<int> token_offsets, token_order;  // the embedding backward's grouping of tokens by id
    kernels::KeyGroupingWorkspace token_grouping, expert_grouping;
    View2<uint8_t> dropout_kept;  // [layer · kSites + site, mask bytes] of the residual-branch dropouts
    kernels::AttentionWorkspace<T> attention;
    View2<T> pooled_fractions;  // [1, experts] the layers' mean f (moe.load_balancing_layers = "pooled")
    typename View2<T>::HostMirror host_pooled_fractions;
    View2<T> global_fractions;  // [layer, experts] the update's running f (moe.load_balancing_scope = "global_batch")
    typename View2<T>::HostMirror host_global_fractions;
    kernels::SinkhornWorkspace<T> sinkhorn;  // moe.routing = "sinkhorn"
    View1<T> sinkhorn_bias;                  // [experts] the selection bias it gives
    View1<int> gate_order;                   // moe.drop_policy = "probability": the rows being reordered
  };
  // What a forward leaves for its backward.
  struct StepState {
    TokenBatch batch;
    StepOptions options{};
    int tokens = 0;
    bool has_gradient = false;
    std::vector<double> global_fraction_sums;  // [layer · experts] Σ f over the update's micro-batches so far
    int global_micro_batches = 0;
  };

  ModelConfig config_;
  ParameterSet<T> params_;
  ParameterIndices indices_;
  View2<T> routing_bias_;  // [layer, expert]
  View2<int> hash_table_;  // [vocab, top_k] (moe.routing = "hash")
  kernels::RopeTable<T> rope_table_;
  TokenRowBuffers capacity_, rows_;  // allocated for capacity_tokens_; the current batch's rows of them
  int capacity_tokens_ = 0;
  Workspaces work_;
  StepState step_;
};

}  // namespace kmoe
