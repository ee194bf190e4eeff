#include "io/deck_schema.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace kmoe {
namespace {

Bounds closed(double lo, double hi) { return Bounds{lo, hi, false, false}; }
Bounds half_open(double lo, double hi) { return Bounds{lo, hi, false, true}; }

std::string number_text(double v) {
  std::ostringstream out;
  out << std::setprecision(12) << v;
  return out.str();
}

}  // namespace

bool Bounds::contains(double v) const {
  if (!std::isfinite(v)) return false;  // inf and NaN are never a setting
  const bool above = lo_open ? v > lo : v >= lo;
  const bool below = hi_open ? v < hi : v <= hi;
  return above && below;
}

std::string Bounds::describe() const {
  const bool has_lo = lo != -std::numeric_limits<double>::infinity();
  const bool has_hi = hi != std::numeric_limits<double>::infinity();
  if (has_lo && has_hi) {
    return std::string("in ") + (lo_open ? "(" : "[") + number_text(lo) + ", " + number_text(hi) +
           (hi_open ? ")" : "]");
  }
  if (has_lo) return (lo_open ? "> " : ">= ") + number_text(lo);
  if (has_hi) return (hi_open ? "< " : "<= ") + number_text(hi);
  return "any number";
}

std::string DeckField::type_name() const {
  switch (target.index()) {
    case 0:
      return "integer";
    case 1:
      return "number";
    case 2:
      return "boolean";
    default:
      return "string";
  }
}

std::string DeckField::allowed() const {
  if (target.index() == 2) return "true or false";
  if (target.index() == 3) {
    if (choices.empty()) return "any string";
    std::string text = "one of";
    for (const auto& c : choices) text += " \"" + c + "\"";
    return text;
  }
  return type_name() + " " + bounds.describe();
}

std::vector<std::string> deck_sections() {
  return {"run", "model", "moe", "optim", "train", "eval", "early_stop", "data", "output"};
}

std::vector<DeckField> deck_fields(RunDeck& d) {
  const double big = 1e9;
  auto& r = d.run;
  auto& m = d.model;
  auto& e = d.moe;
  auto& o = d.optim;
  auto& t = d.train;
  auto& v = d.eval;
  auto& x = d.early_stop;
  auto& a = d.data;
  auto& w = d.output;
  return {
      {"run", "name", &r.name, {}, {}, "run name; names the HDF5 file and checkpoints"},
      {"run",
       "seed",
       &r.seed,
       closed(0, 4294967295.0),
       {},
       "seed of the counter RNG (init, router noise, dropout, batch order)"},
      {"run", "output_dir", &r.output_dir, {}, {}, "directory for the HDF5 record and checkpoints"},

      {"model",
       "vocab_size",
       &m.vocab_size,
       closed(2, 1 << 24),
       {},
       "vocabulary size (must match the tokenizer / shards)"},
      {"model", "d_model", &m.d_model, closed(2, 65536), {}, "residual stream width"},
      {"model",
       "n_layers",
       &m.n_layers,
       closed(1, 1024),
       {},
       "number of transformer blocks (applications, with weight sharing)"},
      {"model",
       "n_heads",
       &m.n_heads,
       closed(1, 1024),
       {},
       "attention heads; d_model / n_heads must be an even integer (RoPE pairs)"},
      {"model", "seq_len", &m.seq_len, closed(1, 1 << 20), {}, "context length in tokens"},
      {"model", "ffn", &m.ffn, {}, {"moe", "dense"}, "feed-forward kind: mixture of experts or the dense baseline"},
      {"model", "d_ff", &m.d_ff, closed(1, 1 << 20), {}, "hidden width of the dense FFN (ffn = \"dense\")"},
      {"model",
       "weight_sharing",
       &m.weight_sharing,
       {},
       {},
       "one block's parameters applied n_layers times (recurrent depth)"},
      {"model",
       "dropout",
       &m.dropout,
       half_open(0, 1),
       {},
       "dropout probability at all six sites; 0 means exactly no dropout"},
      {"model",
       "norm_eps",
       &m.norm_eps,
       Bounds{0, 1, true, false},
       {},
       "RMSNorm epsilon (research: fp32 machine epsilon)"},
      {"model", "rope_base", &m.rope_base, Bounds{1, 1e12, true, false}, {}, "RoPE base (interleaved pairs)"},
      {"model",
       "init_std",
       &m.init_std,
       Bounds{0, 1, true, false},
       {},
       "std of the N(0, std) init of embedding and Linear weights"},
      {"model",
       "init_weights",
       &m.init_weights,
       {},
       {},
       "HDF5 weights file to start from instead of random init (\"\" = none)"},

      {"moe", "num_experts", &e.num_experts, closed(1, 1024), {}, "experts per MoE layer"},
      {"moe", "top_k", &e.top_k, closed(1, 64), {}, "experts per token; must be <= num_experts"},
      {"moe",
       "routing",
       &e.routing,
       {},
       {"token_choice", "expert_choice", "hash", "random", "sinkhorn"},
       "token_choice: each token takes its top-k by the router; expert_choice: each expert takes its top "
       "capacity tokens of a group (Zhou et al.; not causal); hash: a fixed token-id table, no router (Roller et "
       "al.); random: fresh N(0, 1) logits from the counter RNG each micro-batch (and at evaluation), their "
       "gradient passed straight through (Megatron's force-balance baseline); sinkhorn: training selection from "
       "Sinkhorn-balanced scores, plain top-k at evaluation (S-BASE, Megatron)"},
      {"moe",
       "expert_choice_group",
       &e.expert_choice_group,
       {},
       {"micro_batch", "sequence"},
       "expert_choice: the tokens an expert chooses among; capacity = ceil(capacity_factor * group tokens * "
       "top_k / num_experts)"},
      {"moe",
       "hash_table",
       &e.hash_table,
       {},
       {"random", "balanced"},
       "hash: k distinct experts per token id at random (counter RNG, run seed), or balanced by the training "
       "split's token counts (greedy: frequent ids first, each to the least-loaded experts)"},
      {"moe",
       "score",
       &e.score,
       {},
       {"softmax", "sigmoid"},
       "score function: softmax over the experts (the research, Mixtral, Switch) or each logit's sigmoid "
       "(DeepSeek-V3); selection takes the top-k logits (softmax) or sigmoid scores, plus the aux-free bias"},
      {"moe",
       "gate_norm",
       &e.gate_norm,
       {},
       {"selected", "none"},
       "gates: the selected scores renormalised over the selection (softmax: the softmax over the selected "
       "logits, Mixtral, the research; sigmoid: DeepSeek-V3) or the selected scores themselves (Switch, OLMoE); "
       "top_k = 1 needs \"none\""},
      {"moe",
       "route_scale",
       &e.route_scale,
       Bounds{0, 1000, true, false},
       {},
       "multiplies every gate (DeepSeek's routed_scaling_factor: 2.5 in V3)"},
      {"moe",
       "groups",
       &e.groups,
       closed(1, 64),
       {},
       "group-limited routing: the experts in this many contiguous groups (1 = no limit); must divide "
       "num_experts"},
      {"moe",
       "group_topk",
       &e.group_topk,
       closed(1, 64),
       {},
       "groups a token may route to: the best by group_score; the others' experts are masked (never chosen)"},
      {"moe",
       "group_score",
       &e.group_score,
       {},
       {"max", "topk_sum"},
       "a group's score from its experts' selection scores: the best one (DeepSeek-V2) or the sum of the top "
       "top_k / group_topk (DeepSeek-V3, Megatron)"},
      {"moe", "expert_d_ff", &e.expert_d_ff, closed(1, 1 << 20), {}, "hidden width of each expert"},
      {"moe",
       "shared_experts",
       &e.shared_experts,
       closed(0, 64),
       {},
       "always-on experts whose output joins the routed experts' (DeepSeek, Qwen2-MoE); counted as active"},
      {"moe",
       "shared_expert_d_ff",
       &e.shared_expert_d_ff,
       closed(0, 1 << 20),
       {},
       "hidden width of each shared expert; 0 = expert_d_ff"},
      {"moe",
       "shared_gate",
       &e.shared_gate,
       {},
       {"none", "sigmoid", "convex"},
       "how the shared output joins: plain sum (DeepSeek), times sigmoid(x . w) of a learnt d_model vector w "
       "(Qwen2-MoE), or the fixed mix k/(k+1) routed + 1/(k+1) shared (OLMo-core)"},
      {"moe",
       "capacity_factor",
       &e.capacity_factor,
       closed(0, 1024),
       {},
       "expert capacity = factor * tokens * top_k / num_experts; 0 = dropless (expert_choice needs > 0)"},
      {"moe",
       "drop_policy",
       &e.drop_policy,
       {},
       {"position", "probability"},
       "which assignments a full expert keeps: the earliest in token order (Megatron position) or those with "
       "the highest gates (Megatron probs, DeepSpeed); needs capacity_factor > 0"},
      {"moe",
       "renorm_after_drop",
       &e.renorm_after_drop,
       {},
       {},
       "rescale each token's surviving gates to the sum its selection had (DeepSpeed); needs capacity_factor > 0"},
      {"moe",
       "noise_std",
       &e.noise_std,
       closed(0, 100),
       {},
       "std of Gaussian noise added to router logits in training"},
      {"moe",
       "load_balancing_weight",
       &e.load_balancing_weight,
       closed(0, 1000),
       {},
       "Switch load-balancing loss weight (schedule start value)"},
      {"moe",
       "load_balancing_fractions",
       &e.load_balancing_fractions,
       {},
       {"per_pick", "per_token", "first_choice"},
       "what f counts in lb = E * sum_e f_e * mean P_e: each expert's share of all k picks (Megatron, OLMo-core; "
       "1 at balance), picks per token (Hugging Face; k at balance) or first picks only (GShard; 1 at balance)"},
      {"moe",
       "load_balancing_layers",
       &e.load_balancing_layers,
       {},
       {"sum", "mean", "pooled"},
       "how the layers' balancing losses combine: summed (Megatron), averaged (OLMo-core), or f and P averaged "
       "over the layers before one product (Hugging Face, which hides per-layer imbalance)"},
      {"moe",
       "load_balancing_scope",
       &e.load_balancing_scope,
       {},
       {"micro_batch", "sequence", "global_batch"},
       "the tokens f and P are taken over: the micro-batch (Megatron aux_loss), each sequence, the loss their mean "
       "(DeepSeek seq_aux), or f from the running counts of the optimizer update's micro-batches so far with P "
       "local (Qwen, Megatron global_aux_loss)"},
      {"moe",
       "load_balancing_weight_end",
       &e.load_balancing_weight_end,
       closed(0, 1000),
       {},
       "schedule end value; defaults to load_balancing_weight (constant)"},
      {"moe", "lb_warmup_frac", &e.lb_warmup_frac, closed(0, 1), {}, "fraction of steps the start value is held"},
      {"moe",
       "lb_decay_end_frac",
       &e.lb_decay_end_frac,
       closed(0, 1),
       {},
       "fraction of steps by which the weight reaches the end value (linear decay)"},
      {"moe",
       "z_loss_weight",
       &e.z_loss_weight,
       closed(0, 1000),
       {},
       "router z-loss weight: mean logsumexp(logits)^2 per layer"},
      {"moe",
       "aux_free_bias",
       &e.aux_free_bias,
       {},
       {},
       "aux-loss-free balancing: per-expert bias on routing scores, nudged toward balance"},
      {"moe", "aux_free_bias_rate", &e.aux_free_bias_rate, closed(0, 10), {}, "update rate of the aux-loss-free bias"},
      {"moe",
       "aux_free_bias_centre",
       &e.aux_free_bias_centre,
       {},
       {},
       "re-centre each bias update to zero mean over the experts (torchtitan) so the bias cannot drift"},
      {"moe",
       "router_muon",
       &e.router_muon,
       {},
       {},
       "optimise the router matrix with Muon (research) instead of AdamW"},

      {"optim", "muon_lr", &o.muon_lr, closed(0, 10), {}, "peak learning rate of the Muon group"},
      {"optim", "muon_momentum", &o.muon_momentum, half_open(0, 1), {}, "Muon momentum (EMA coefficient)"},
      {"optim", "muon_nesterov", &o.muon_nesterov, {}, {}, "Nesterov direction (1-mu)*g + mu*m"},
      {"optim", "muon_ns_steps", &o.muon_ns_steps, closed(1, 100), {}, "Newton-Schulz iterations"},
      {"optim", "adamw_lr", &o.adamw_lr, closed(0, 10), {}, "peak learning rate of the AdamW group"},
      {"optim", "adamw_beta1", &o.adamw_beta1, half_open(0, 1), {}, "AdamW beta1"},
      {"optim", "adamw_beta2", &o.adamw_beta2, half_open(0, 1), {}, "AdamW beta2"},
      {"optim", "adamw_eps", &o.adamw_eps, Bounds{0, 1, true, false}, {}, "AdamW epsilon"},
      {"optim", "weight_decay", &o.weight_decay, closed(0, 100), {}, "decoupled weight decay of the AdamW group"},
      {"optim",
       "warmup_frac",
       &o.warmup_frac,
       half_open(0, 1),
       {},
       "fraction of optimizer updates with linear LR warm-up"},
      {"optim", "decay", &o.decay, {}, {"cosine", "linear", "constant"}, "LR decay after warm-up"},
      {"optim", "min_lr_ratio", &o.min_lr_ratio, closed(0, 1), {}, "final LR as a fraction of the peak"},
      {"optim", "grad_clip", &o.grad_clip, closed(0, 1e6), {}, "global gradient-norm clip; 0 = off"},
      {"optim",
       "legacy_schedule",
       &o.legacy_schedule,
       {},
       {},
       "reproduce the research's mis-stepped LR schedule (20% warm-up, ends ~0.91x)"},
      {"optim",
       "muon_qkv",
       &o.muon_qkv,
       {},
       {"separate", "joint"},
       "Muon on wq, wk, wv as three matrices, or jointly as the research's stacked (3*d_model x d_model) qkv, update "
       "scaled by sqrt(3)"},

      {"train", "max_steps", &t.max_steps, closed(1, big), {}, "optimizer updates"},
      {"train", "batch_size", &t.batch_size, closed(1, 1 << 20), {}, "sequences per micro-batch"},
      {"train", "grad_accum", &t.grad_accum, closed(1, 4096), {}, "micro-batches per optimizer update"},
      {"train",
       "precision",
       &t.precision,
       {},
       {"fp32", "bf16"},
       "matrix products' operands: fp32, or bf16 with fp32 accumulation (fp32 master weights, optimizer state, router, "
       "softmax, losses and norms)"},
      {"train",
       "debug_nan_step",
       &t.debug_nan_step,
       closed(-1, big),
       {},
       "inject a NaN into the gradients at this step (-1 = never); tests the detector"},
      {"train",
       "debug_signal_step",
       &t.debug_signal_step,
       closed(-1, big),
       {},
       "send SIGTERM to itself after this step (-1 = never); tests stop and resume"},

      {"eval", "every", &v.every, closed(0, big), {}, "evaluate every this many steps (0 = only at the end)"},
      {"eval", "batches", &v.batches, closed(0, big), {}, "validation batches per evaluation (0 = the whole split)"},
      {"eval",
       "test_fraction",
       &v.test_fraction,
       half_open(0, 1),
       {},
       "fraction of held-out documents reserved for the final test"},

      {"early_stop",
       "patience",
       &x.patience,
       closed(0, big),
       {},
       "evaluations without a val-loss improvement > min_delta before stopping (0 = never stop early)"},
      {"early_stop",
       "min_delta",
       &x.min_delta,
       closed(0, 100),
       {},
       "val-loss improvement (nats) that counts as progress"},
      {"early_stop",
       "slope_window",
       &x.slope_window,
       closed(2, big),
       {},
       "steps over which the train-loss slope and routing change are fitted"},
      {"early_stop",
       "max_slope",
       &x.max_slope,
       closed(0, 100),
       {},
       "stop only if the train loss falls by less than this per step (least-squares slope)"},
      {"early_stop",
       "routing_tolerance",
       &x.routing_tolerance,
       closed(0, 100),
       {},
       "stop only if router entropy (nats) and max-load fraction changed by at most this over the window"},

      {"data",
       "train_shard",
       &a.train_shard,
       {},
       {},
       "token shard for training (llm.c layout); \"\" = prepare from corpus"},
      {"data", "val_shard", &a.val_shard, {}, {}, "token shard for validation"},
      {"data", "test_shard", &a.test_shard, {}, {}, "token shard for the final test"},
      {"data", "corpus", &a.corpus, {}, {}, "raw text: .txt / .jsonl file or a directory of them"},
      {"data",
       "tokenizer_model",
       &a.tokenizer_model,
       {},
       {},
       "SentencePiece .model to use (\"\" = train one of model.vocab_size)"},
      {"data", "data_dir", &a.data_dir, {}, {}, "where prepared shards and tokenizers are written"},
      {"data",
       "holdout_fraction",
       &a.holdout_fraction,
       half_open(0, 1),
       {},
       "fraction of documents held out (validation + test)"},
      {"data",
       "split_seed",
       &a.split_seed,
       closed(0, 4294967295.0),
       {},
       "seed of the document split (separate from run.seed so all cells share data)"},
      {"data", "max_documents", &a.max_documents, closed(0, 1e15), {}, "use at most this many documents (0 = all)"},
      {"data", "max_tokens", &a.max_tokens, closed(0, 1e15), {}, "cap on training tokens (0 = all)"},
      {"data",
       "max_doc_chars",
       &a.max_doc_chars,
       closed(0, 1e15),
       {},
       "truncate documents to this many characters (0 = no limit)"},

      {"output", "hdf5", &w.hdf5, {}, {}, "HDF5 record path (\"\" = <run.output_dir>/<run.name>.h5)"},
      {"output",
       "checkpoint_every",
       &w.checkpoint_every,
       closed(0, big),
       {},
       "checkpoint every this many steps (0 = only on signal / end)"},
      {"output", "log_every", &w.log_every, closed(1, big), {}, "progress line every this many steps"},
  };
}

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  for (const auto& c : candidates) {  // "optimizer" → "optim", "lb_warmup" → "lb_warmup_frac"
    if (word.size() >= 3 && c.size() >= 3 &&
        (word.compare(0, c.size(), c) == 0 || c.compare(0, word.size(), word) == 0)) {
      return c;
    }
  }
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const size_t dist = edit_distance(word, c);
    if (dist < best_distance) {
      best_distance = dist;
      best = c;
    }
  }
  return best;
}

}  // namespace kmoe
