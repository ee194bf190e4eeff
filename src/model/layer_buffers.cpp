#include "model/layer_buffers.hpp"

#include "kernels/elementwise.hpp"
#include "kernels/router_losses.hpp"

namespace kmoe {

namespace {
int ffn_rows(const ModelConfig& c, int tokens) { return c.moe ? c.routed_rows(tokens) : tokens; }
int ffn_width(const ModelConfig& c) { return c.moe ? c.expert_d_ff : c.d_ff; }
}  // namespace

template <class T>
BlockActivations<T>::BlockActivations(const ModelConfig& c, int tokens)
    : normed_attn("normed_attn", tokens, c.d_model),
      rstd_attn("rstd_attn", tokens),
      q("q", tokens, c.d_model),
      k("k", tokens, c.d_model),
      v("v", tokens, c.d_model),
      attn_out("attn_out", tokens, c.d_model),
      attn_lse("attn_lse", tokens, c.n_heads),
      attn_kept("attn_kept", c.dropout > 0 ? kernels::attention_kept_words(attention_shape(c, tokens)) : 0),
      x_mid("x_mid", tokens, c.d_model),
      normed_ffn("normed_ffn", tokens, c.d_model),
      rstd_ffn("rstd_ffn", tokens),
      grouped_in("grouped_in", c.moe ? ffn_rows(c, tokens) : 0, c.d_model),
      hidden("hidden", ffn_rows(c, tokens), ffn_width(c)),
      activated("activated", ffn_rows(c, tokens), ffn_width(c)),
      activation_kept("activation_kept",
                      c.dropout > 0 ? kernels::dropout_bit_bytes(size_t(ffn_rows(c, tokens)) * ffn_width(c)) : 0),
      expert_out("expert_out", c.moe ? ffn_rows(c, tokens) : 0, c.d_model) {
  if (c.moe) {
    router = kernels::RouterState<T>(tokens, c.num_experts, c.slots(),
                                     c.router_rule.score == kernels::ScoreFunction::sigmoid);
    assignment = kernels::ExpertAssignment(c.num_experts, ffn_rows(c, tokens), tokens * c.slots(), c.slots());
    if (c.renorm_after_drop) kept_gates = View2<T>("kept_gates", tokens, c.slots());
    const int groups = c.lb_scope == kernels::BalanceScope::sequence ? tokens / c.seq_len : 1;
    balance.fractions = View2<T>("fractions", groups, c.num_experts);
    balance.group_mean_probs = View2<T>("group_mean_probs", groups > 1 ? groups : 0, c.num_experts);
    balance.mean_probs = View1<T>("mean_probs", c.num_experts);
    router_summary = View1<double>("router_summary", kernels::RouterSummary{c.num_experts}.size());
    host_router_summary = HostView1<double>("host_router_summary", router_summary.extent(0));
  }
  const int S = c.shared_width();
  if (S > 0) {
    shared.hidden = View2<T>("shared_hidden", tokens, S);
    shared.activated = View2<T>("shared_activated", tokens, S);
    shared.kept = View1<uint8_t>("shared_kept", c.dropout > 0 ? kernels::dropout_bit_bytes(size_t(tokens) * S) : 0);
    shared.out = View2<T>("shared_out", tokens, c.d_model);
    shared.gate = View2<T>("shared_gate", c.shared_gate == kernels::SharedGate::sigmoid ? tokens : 0, 1);
  }
}

template <class T>
BlockActivations<T> BlockActivations<T>::first_tokens(const ModelConfig& c, int tokens) const {
  BlockActivations out = *this;
  const size_t rows = ffn_rows(c, tokens);
  for (View2<T>* v :
       {&out.normed_attn, &out.q, &out.k, &out.v, &out.attn_out, &out.attn_lse, &out.x_mid, &out.normed_ffn}) {
    *v = first_rows(*v, tokens);
  }
  out.rstd_attn = first_rows(rstd_attn, tokens);
  out.rstd_ffn = first_rows(rstd_ffn, tokens);
  for (View2<T>* v : {&out.grouped_in, &out.hidden, &out.activated, &out.expert_out}) {
    if (v->extent(0) > 0) *v = first_rows(*v, rows);
  }
  if (attn_kept.extent(0) > 0)
    out.attn_kept = first_rows(attn_kept, kernels::attention_kept_words(attention_shape(c, tokens)));
  if (activation_kept.extent(0) > 0) {
    out.activation_kept = first_rows(activation_kept, kernels::dropout_bit_bytes(rows * ffn_width(c)));
  }
  if (c.moe) {
    out.router.logits = first_rows(router.logits, tokens);
    out.router.probs = first_rows(router.probs, tokens);
    out.router.scores =
        router.scores.data() == router.probs.data() ? out.router.probs : first_rows(router.scores, tokens);
    out.router.lse = first_rows(router.lse, tokens);
    out.router.top_idx = first_rows(router.top_idx, tokens);
    out.router.gates = first_rows(router.gates, tokens);
    out.assignment = assignment.first_assignments(rows, tokens * c.slots());
    if (kept_gates.extent(0) > 0) out.kept_gates = first_rows(kept_gates, tokens);
    if (c.lb_scope == kernels::BalanceScope::sequence) {
      out.balance.fractions = first_rows(balance.fractions, tokens / c.seq_len);
      out.balance.group_mean_probs = first_rows(balance.group_mean_probs, tokens / c.seq_len);
    }
  }
  if (c.shared_width() > 0) {
    for (View2<T>* v : {&out.shared.hidden, &out.shared.activated, &out.shared.out}) *v = first_rows(*v, tokens);
    if (shared.gate.extent(0) > 0) out.shared.gate = first_rows(shared.gate, tokens);
    if (shared.kept.extent(0) > 0) {
      out.shared.kept = first_rows(shared.kept, kernels::dropout_bit_bytes(size_t(tokens) * c.shared_width()));
    }
  }
  return out;
}

template <class T>
BackwardScratch<T> BackwardScratch<T>::first_tokens(const ModelConfig& c, int tokens) const {
  BackwardScratch out = *this;
  for (View2<T>* v :
       {&out.dx, &out.dbranch, &out.dnormed, &out.dq, &out.dk, &out.dv, &out.dattn, &out.dgates, &out.dlogits}) {
    *v = first_rows(*v, tokens);
  }
  for (View2<T>* v : {&out.dexpert_out, &out.dhidden, &out.dactivated, &out.dgrouped}) {
    if (v->extent(0) > 0) *v = first_rows(*v, ffn_rows(c, tokens));
  }
  for (View2<T>* v : {&out.shared.dout, &out.shared.dactivated, &out.shared.dhidden, &out.shared.dgate}) {
    if (v->extent(0) > 0) *v = first_rows(*v, tokens);
  }
  return out;
}

template <class T>
BackwardScratch<T>::BackwardScratch(const ModelConfig& c, int tokens)
    : dx("dx", tokens, c.d_model),
      dbranch("dbranch", tokens, c.d_model),
      dnormed("dnormed", tokens, c.d_model),
      dq("dq", tokens, c.d_model),
      dk("dk", tokens, c.d_model),
      dv("dv", tokens, c.d_model),
      dattn("dattn", tokens, c.d_model),
      dgates("dgates", tokens, c.moe ? c.slots() : 0),
      dlogits("dlogits", tokens, c.moe ? c.num_experts : 0),
      dexpert_out("dexpert_out", c.moe ? ffn_rows(c, tokens) : 0, c.d_model),
      dhidden("dhidden", ffn_rows(c, tokens), ffn_width(c)),
      dactivated("dactivated", ffn_rows(c, tokens), ffn_width(c)),
      dgrouped("dgrouped", c.moe ? ffn_rows(c, tokens) : 0, c.d_model) {
  const int S = c.shared_width();
  if (S > 0) {
    shared.dout = View2<T>("shared_dout", tokens, c.d_model);
    shared.dactivated = View2<T>("shared_dactivated", tokens, S);
    shared.dhidden = View2<T>("shared_dhidden", tokens, S);
    shared.dgate = View2<T>("shared_dgate", c.shared_gate == kernels::SharedGate::sigmoid ? tokens : 0, 1);
  }
}

template struct BlockActivations<float>;
template struct BlockActivations<double>;
template struct BackwardScratch<float>;
template struct BackwardScratch<double>;

}  // namespace kmoe
