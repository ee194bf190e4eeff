// Each kernel's forward + backward at the reference shapes: batch 8 × 512 tokens, d_model 384,
// 8 heads, 8 experts of width 1536, top-2, vocab 8192. Reported as tokens/s.
#include <benchmark/benchmark.h>

#include "core/views.hpp"
#include "kernels/causal_attention.hpp"
#include "kernels/cross_entropy.hpp"
#include "kernels/dense_gemm.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/embedding.hpp"
#include "kernels/expert_dispatch.hpp"
#include "kernels/rmsnorm.hpp"
#include "kernels/rope.hpp"
#include "kernels/router.hpp"
#include "kernels/router_losses.hpp"
#include "kernels/token_grouping.hpp"

using namespace kmoe;
using namespace kmoe::kernels;

namespace {

constexpr int kBatch = 8, kSeq = 512, kTokens = kBatch * kSeq, kDim = 384, kHeads = 8, kExperts = 8, kTopK = 2,
              kFfn = 1536, kVocab = 8192;

void fill(const View2<float>& v, float scale) {
  Kokkos::parallel_for(
      "fill", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {int(v.extent(0)), int(v.extent(1))}),
      KOKKOS_LAMBDA(int i, int j) { v(i, j) = scale * float(((i * 131 + j * 71) % 97) - 48) / 48.0f; });
}

void report_tokens(benchmark::State& state) {
  state.counters["tokens/s"] = benchmark::Counter(double(kTokens) * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_RmsNorm(benchmark::State& state) {
  View2<float> x("x", kTokens, kDim), y("y", kTokens, kDim), dy("dy", kTokens, kDim), dx("dx", kTokens, kDim);
  View1<float> g("g", kDim), dg("dg", kDim), rstd("rstd", kTokens);
  fill(x, 1);
  fill(dy, 1);
  Kokkos::deep_copy(g, 1.0f);
  for (auto _ : state) {
    rmsnorm_forward(x, g, 1e-6f, y, rstd);
    rmsnorm_backward(x, g, rstd, dy, dx, dg, false);
    Kokkos::fence();
  }
  report_tokens(state);
}

void BM_Rope(benchmark::State& state) {
  View2<float> q("q", kTokens, kDim);
  fill(q, 1);
  const RopeTable<float> table(kSeq, kDim / kHeads, 10000.0);
  for (auto _ : state) {
    rope_forward(q, table);
    rope_backward(q, table);
    Kokkos::fence();
  }
  report_tokens(state);
}

void BM_CausalAttention(benchmark::State& state) {
  View2<float> q("q", kTokens, kDim), k("k", kTokens, kDim), v("v", kTokens, kDim), o("o", kTokens, kDim);
  View2<float> lse("lse", kTokens, kHeads), dout("dout", kTokens, kDim), dq("dq", kTokens, kDim),
      dk("dk", kTokens, kDim), dv("dv", kTokens, kDim);
  AttentionWorkspace<float> workspace;
  fill(q, 1);
  fill(k, 1);
  fill(v, 1);
  fill(dout, 1);
  const AttentionShape shape{kBatch, kSeq, kHeads, kDim / kHeads};
  // Argument 1: probability dropout 0.1, its mask drawn in the forward and read back.
  AttentionDropout dropout;
  if (state.range(0)) dropout = AttentionDropout{0.1, 42, 1, View1<uint32_t>("kept", attention_kept_words(shape))};
  for (auto _ : state) {
    causal_attention_forward(shape, q, k, v, dropout, o, lse, workspace);
    causal_attention_backward(shape, q, k, v, o, lse, dout, dropout, dq, dk, dv, workspace);
    Kokkos::fence();
  }
  report_tokens(state);
}

void BM_LinearQkvProjection(benchmark::State& state) {
  View2<float> x("x", kTokens, kDim), w("w", 3 * kDim, kDim), y("y", kTokens, 3 * kDim), dx("dx", kTokens, kDim),
      dw("dw", 3 * kDim, kDim);
  fill(x, 1);
  fill(w, 0.02f);
  for (auto _ : state) {
    linear_forward(x, w, y);
    linear_backward_input(y, w, dx);
    linear_backward_weight(y, x, dw);
    Kokkos::fence();
  }
  report_tokens(state);
}

void BM_SiluDropout(benchmark::State& state) {
  View2<float> h("h", kTokens * kTopK, kFfn), a("a", kTokens * kTopK, kFfn), dh("dh", kTokens * kTopK, kFfn);
  View1<uint8_t> kept("kept", dropout_bit_bytes(h.span()));
  fill(h, 2);
  for (auto _ : state) {
    silu_dropout_forward(h, a, 0.1, 42, 1, kept);
    silu_dropout_backward(h, a, dh, 0.1, kept);
    Kokkos::fence();
  }
  report_tokens(state);
}

constexpr RouterRule kResearchGates{Routing::token_choice, ScoreFunction::softmax, GateNorm::selected, 1.0, 1, 1,
                                    GroupScore::max};

struct RouterSetup {
  View2<float> x{"x", kTokens, kDim}, w{"w", kExperts, kDim}, dgates{"dg", kTokens, kTopK},
      dlogits{"dl", kTokens, kExperts};
  RouterState<float> state{kTokens, kExperts, kTopK};
  ExpertAssignment assignment{kExperts, kTokens* kTopK, kTokens* kTopK, kTopK};
  KeyGroupingWorkspace grouping;
  BalanceStatistics<float> balance{View2<float>("f", 1, kExperts), {}, View1<float>("p", kExperts)};
  View1<float> bias{"bias", kExperts};
  RouterSetup() {
    fill(x, 1);
    fill(w, 0.5f);
    fill(dgates, 1);
  }
  void route() {
    linear_forward(x, w, state.logits);
    router_forward(state, RouterNoise{0.1, 42, 1}, bias, kResearchGates);
    assign_experts(View1<int>(state.top_idx.data(), kTokens * kTopK), 0, assignment, grouping);
  }
};

void BM_RouterAndLosses(benchmark::State& state) {
  RouterSetup r;
  for (auto _ : state) {
    r.route();
    router_losses(r.state, r.assignment.offsets, LoadFractions::per_pick, r.balance);
    router_backward(r.state, r.dgates, r.balance.fractions, 0.01f, 0.001f, r.dlogits, kResearchGates);
    Kokkos::fence();
  }
  report_tokens(state);
}

void BM_ExpertDispatch(benchmark::State& state) {
  RouterSetup r;
  r.route();
  View2<float> grouped("g", kTokens * kTopK, kDim), expert_out("eo", kTokens * kTopK, kDim), out("o", kTokens, kDim),
      dexpert("de", kTokens * kTopK, kDim), dx("dx", kTokens, kDim);
  fill(expert_out, 1);
  for (auto _ : state) {
    dispatch_forward(r.x, r.assignment, grouped);
    combine_forward(expert_out, r.state.gates, r.assignment, out);
    combine_backward(expert_out, r.state.gates, r.assignment, out, r.dgates, dexpert);
    dispatch_backward(dexpert, r.assignment, dx);
    Kokkos::fence();
  }
  report_tokens(state);
}

void BM_TiedHeadCrossEntropy(benchmark::State& state) {
  View2<float> h("h", kTokens, kDim), emb("emb", kVocab, kDim), dh("dh", kTokens, kDim), demb("demb", kVocab, kDim);
  const CrossEntropyScratch<float> chunk(1024, kVocab);
  View1<int> targets("t", kTokens);
  fill(h, 1);
  fill(emb, 0.02f);
  for (auto _ : state) {
    tied_head_cross_entropy(h, emb, targets, chunk, 1.0f / kTokens, dh, demb);
    Kokkos::fence();
  }
  report_tokens(state);
}

void BM_Embedding(benchmark::State& state) {
  View2<float> table("table", kVocab, kDim), out("out", kTokens, kDim), dtable("dtable", kVocab, kDim);
  View1<int> tokens("tokens", kTokens), offsets("offsets", kVocab + 1), order("order", kTokens);
  Kokkos::parallel_for(
      "tokens", Range(0, kTokens), KOKKOS_LAMBDA(int i) { tokens(i) = (i * 7919) % kVocab; });
  for (auto _ : state) {
    embedding_forward(tokens, table, 19.6f, out);
    group_by_key(tokens, kVocab, offsets, order);
    embedding_backward(offsets, order, out, 19.6f, dtable);
    Kokkos::fence();
  }
  report_tokens(state);
}

}  // namespace

BENCHMARK(BM_RmsNorm)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Rope)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CausalAttention)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LinearQkvProjection)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SiluDropout)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RouterAndLosses)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ExpertDispatch)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TiedHeadCrossEntropy)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Embedding)->Unit(benchmark::kMillisecond)->UseRealTime();
