// Construction, buffers and the top-level forward/backward of MoeTransformer.
#include "model/moe_transformer.hpp"

#include <cmath>

#include "core/counter_rng.hpp"
#include "core/error.hpp"
#include "kernels/cross_entropy.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/embedding.hpp"
#include "kernels/rmsnorm.hpp"
#include "kernels/token_grouping.hpp"
#include "model/transformer_sites.hpp"

namespace kmoe {

using namespace kernels;

namespace {
using dropout_site::kEmbedding;
using dropout_site::kHead;
}  // namespace

template <class T>
MoeTransformer<T>::MoeTransformer(const ModelConfig& config, uint64_t seed) : config_(config), params_(config) {
  require(config.d_model % config.n_heads == 0 && config.head_dim() % 2 == 0,
          "d_model / n_heads must be an even integer");
  params_.initialize(seed, config.init_std);
  indices_.tok_emb = params_.index_of("tok_emb");
  indices_.final_norm = params_.index_of("final_norm");
  for (int l = 0; l < config.n_layers; ++l) {
    const std::string p = "blocks." + std::to_string(config.weight_sharing ? 0 : l) + ".";
    BlockParams b{};
    b.shared_w1 = b.shared_w2 = b.shared_gate = -1;
    b.attn_norm = params_.index_of(p + "attn_norm");
    b.wq = params_.index_of(p + "wq");
    b.wk = params_.index_of(p + "wk");
    b.wv = params_.index_of(p + "wv");
    b.wo = params_.index_of(p + "wo");
    b.ffn_norm = params_.index_of(p + "ffn_norm");
    if (config.moe) {
      b.router = config.has_router() ? params_.index_of(p + "router") : -1;
      b.first_expert = params_.index_of(p + "experts.0.w1");
      if (config.shared_width() > 0) {
        b.shared_w1 = params_.index_of(p + "shared.w1");
        b.shared_w2 = params_.index_of(p + "shared.w2");
        if (config.shared_gate == kernels::SharedGate::sigmoid) b.shared_gate = params_.index_of(p + "shared.gate");
      }
    } else {
      b.ffn_w1 = params_.index_of(p + "ffn.w1");
      b.ffn_w2 = params_.index_of(p + "ffn.w2");
    }
    indices_.blocks.push_back(b);
  }
  routing_bias_ = View2<T>("routing_bias", config.n_layers, config.num_experts);
  if (config.moe && config.routing() == Routing::sinkhorn)
    work_.sinkhorn_bias = View1<T>("sinkhorn_bias", config.num_experts);
  if (config.moe && config.lb_layers == BalanceLayers::pooled) {
    work_.pooled_fractions = View2<T>("pooled_fractions", 1, config.num_experts);
    work_.host_pooled_fractions = Kokkos::create_mirror_view(work_.pooled_fractions);
  }
  if (config.moe && config.lb_scope == BalanceScope::global_batch) {
    work_.global_fractions = View2<T>("global_fractions", config.n_layers, config.num_experts);
    work_.host_global_fractions = Kokkos::create_mirror_view(work_.global_fractions);
    step_.global_fraction_sums.assign(size_t(config.n_layers) * config.num_experts, 0.0);
  }
  rope_table_ = RopeTable<T>(config.seq_len, config.head_dim(), config.rope_base);
}

template <class T>
void MoeTransformer<T>::update_routing_bias(const ForwardResult& update, double rate, bool centre) {
  if (!config_.moe) return;
  auto bias = Kokkos::create_mirror_view_and_copy(HostSpace(), routing_bias_);
  for (int l = 0; l < config_.n_layers; ++l) {
    const auto& load = update.layers[l].expert_tokens;
    double mean = 0;
    for (auto n : load) mean += double(n) / double(load.size());
    std::vector<double> step(config_.num_experts);
    double mean_step = 0;
    for (int e = 0; e < config_.num_experts; ++e) {
      const double gap = mean - double(load[e]);
      step[e] = rate * ((gap > 0) - (gap < 0));
      mean_step += step[e] / config_.num_experts;
    }
    for (int e = 0; e < config_.num_experts; ++e) bias(l, e) += T(centre ? step[e] - mean_step : step[e]);
  }
  Kokkos::deep_copy(routing_bias_, bias);
}

template <class T>
void MoeTransformer<T>::set_hash_table(const std::vector<int>& table) {
  const auto& c = config_;
  require(c.moe && c.routing() == Routing::hash, "a hash table for a model without moe.routing = \"hash\"");
  require(table.size() == size_t(c.vocab_size) * c.top_k,
          "hash table has " + std::to_string(table.size()) +
              " entries, the model needs vocab_size x top_k = " + std::to_string(size_t(c.vocab_size) * c.top_k));
  hash_table_ = View2<int>("hash_table", c.vocab_size, c.top_k);
  auto host = Kokkos::create_mirror_view(hash_table_);
  std::copy(table.begin(), table.end(), host.data());
  Kokkos::deep_copy(hash_table_, host);
}

template <class T>
std::vector<double> MoeTransformer<T>::routing_bias() const {
  const auto bias = Kokkos::create_mirror_view_and_copy(HostSpace(), routing_bias_);
  return std::vector<double>(bias.data(), bias.data() + bias.span());
}

template <class T>
void MoeTransformer<T>::set_routing_bias(const std::vector<double>& values) {
  require(values.size() == routing_bias_.span(), "routing bias has " + std::to_string(values.size()) +
                                                     " values, the model needs " +
                                                     std::to_string(routing_bias_.span()));
  auto bias = Kokkos::create_mirror_view(routing_bias_);
  std::copy(values.begin(), values.end(), bias.data());
  Kokkos::deep_copy(routing_bias_, bias);
}

template <class T>
MoeTransformer<T>::TokenRowBuffers::TokenRowBuffers(const ModelConfig& c, int tokens)
    : ffn_out("ffn_out", tokens, c.d_model),
      final_normed("final_normed", tokens, c.d_model),
      dfinal("dfinal", tokens, c.d_model),
      final_rstd("final_rstd", tokens),
      scratch(c, tokens) {
  for (int l = 0; l <= c.n_layers; ++l) residual.emplace_back("residual", tokens, c.d_model);
  for (int l = 0; l < c.n_layers; ++l) blocks.emplace_back(c, tokens);
}

template <class T>
typename MoeTransformer<T>::TokenRowBuffers MoeTransformer<T>::TokenRowBuffers::first_tokens(const ModelConfig& c,
                                                                                             int tokens) const {
  TokenRowBuffers out;
  for (const auto& r : residual) out.residual.push_back(first_rows(r, tokens));
  for (const auto& block : blocks) out.blocks.push_back(block.first_tokens(c, tokens));
  out.ffn_out = first_rows(ffn_out, tokens);
  out.final_normed = first_rows(final_normed, tokens);
  out.dfinal = first_rows(dfinal, tokens);
  out.final_rstd = first_rows(final_rstd, tokens);
  out.scratch = scratch.first_tokens(c, tokens);
  return out;
}

template <class T>
void MoeTransformer<T>::ensure_buffers(int tokens) {
  if (tokens == step_.tokens) return;
  const auto& c = config_;
  if (tokens > capacity_tokens_) {
    capacity_tokens_ = tokens;
    capacity_ = TokenRowBuffers();  // the old buffers go before the new ones are allocated
    capacity_ = TokenRowBuffers(c, tokens);
    // Sized by the capacity; kernels use the rows or bytes the batch needs.
    work_.cross_entropy = CrossEntropyScratch<T>(std::min(tokens, kLogitsChunkRows), c.vocab_size);
    work_.token_offsets = View1<int>("token_offsets", c.vocab_size + 1);
    work_.token_order = View1<int>("token_order", tokens);
    if (c.moe && c.routing() == Routing::sinkhorn) work_.sinkhorn = SinkhornWorkspace<T>(tokens, c.num_experts);
    if (c.moe && c.drop_policy == DropPolicy::probability)
      work_.gate_order = View1<int>("gate_order", c.routed_rows(tokens));
    work_.dropout_kept = View2<uint8_t>("dropout_kept", c.dropout > 0 ? (c.n_layers + 1) * dropout_site::kSites : 0,
                                        kernels::dropout_bit_bytes(size_t(tokens) * c.d_model));
  }
  step_.tokens = tokens;
  rows_ = capacity_.first_tokens(c, tokens);
}

template <class T>
uint64_t MoeTransformer<T>::dropout_stream(int layer, int site) const {
  return rng::stream_id(rng::Purpose::Dropout, static_cast<uint32_t>(layer * dropout_site::kStreamsPerLayer + site),
                        static_cast<uint32_t>(step_.options.rng_step));
}

template <class T>
View1<uint8_t> MoeTransformer<T>::dropout_kept(int layer, int site) const {
  return Kokkos::subview(work_.dropout_kept, layer * dropout_site::kSites + site, Kokkos::ALL());
}

template <class T>
void MoeTransformer<T>::apply_dropout(const View2<T>& x, int layer, int site) const {
  if (step_.options.training) {
    dropout_forward(x, config_.dropout, step_.options.seed, dropout_stream(layer, site), dropout_kept(layer, site));
  }
}

template <class T>
void MoeTransformer<T>::apply_dropout_backward(const View2<T>& x, int layer, int site) const {
  if (step_.options.training) dropout_backward(x, config_.dropout, dropout_kept(layer, site));
}

template <class T>
ForwardResult MoeTransformer<T>::forward(const TokenBatch& batch, const StepOptions& options) {
  const auto& c = config_;
  const int tokens = batch.batch * c.seq_len;
  require(static_cast<int>(batch.inputs.extent(0)) == tokens && static_cast<int>(batch.targets.extent(0)) == tokens,
          "batch holds " + std::to_string(batch.inputs.extent(0)) +
              " tokens, expected batch·seq_len = " + std::to_string(tokens));
  ensure_buffers(tokens);
  step_.batch = batch;
  step_.options = options;
  const bool global_balance = c.moe && c.lb_scope == BalanceScope::global_batch && options.training;
  if (global_balance) {
    if (options.first_micro_batch) {
      std::fill(step_.global_fraction_sums.begin(), step_.global_fraction_sums.end(), 0.0);
      step_.global_micro_batches = 0;
    }
    ++step_.global_micro_batches;
  }

  embedding_forward(batch.inputs, params_.matrix(indices_.tok_emb), T(std::sqrt(double(c.d_model))), rows_.residual[0]);
  apply_dropout(rows_.residual[0], 0, kEmbedding);

  ForwardResult result;
  result.layers.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    attention_forward(l, rows_.residual[l]);
    ffn_forward(l, result.layers[l]);
    result.load_balancing += result.layers[l].load_balancing;  // summed; combined_load_balancing revises
    result.z_loss += result.layers[l].z_loss;
  }

  if (global_balance) Kokkos::deep_copy(work_.global_fractions, work_.host_global_fractions);
  if (c.moe && c.lb_layers != BalanceLayers::sum) result.load_balancing = combined_load_balancing(result);

  rmsnorm_forward(rows_.residual[c.n_layers], params_.vector(indices_.final_norm), T(c.norm_eps), rows_.final_normed,
                  rows_.final_rstd);
  apply_dropout(rows_.final_normed, c.n_layers, kHead);
  const View2<T> no_grad;
  const auto ce =
      tied_head_cross_entropy(rows_.final_normed, params_.matrix(indices_.tok_emb), batch.targets, work_.cross_entropy,
                              T(options.grad_scale / tokens), options.training ? rows_.dfinal : no_grad,
                              options.training ? params_.matrix_grad(indices_.tok_emb) : no_grad, c.matmul);
  step_.has_gradient = options.training;

  result.tokens = tokens;
  result.correct = ce.correct;
  result.cross_entropy = ce.loss_sum / tokens;
  result.total_loss =
      result.cross_entropy + options.lb_weight * result.load_balancing + options.z_weight * result.z_loss;
  return result;
}

template <class T>
double MoeTransformer<T>::combined_load_balancing(const ForwardResult& result) {
  const auto& c = config_;
  if (c.lb_layers == BalanceLayers::mean) return result.load_balancing / c.n_layers;
  const RouterSummary at{c.num_experts};
  std::vector<double> f(c.num_experts, 0.0), p(c.num_experts, 0.0);
  for (int l = 0; l < c.n_layers; ++l) {
    const auto& summary = rows_.blocks[l].host_router_summary;
    for (int e = 0; e < c.num_experts; ++e) {
      f[e] += summary(at.fraction(e)) / c.n_layers;
      p[e] += summary(at.mean_prob(e)) / c.n_layers;
    }
  }
  double lb = 0;
  for (int e = 0; e < c.num_experts; ++e) {
    work_.host_pooled_fractions(0, e) = T(f[e]);
    lb += f[e] * p[e];
  }
  Kokkos::deep_copy(work_.pooled_fractions, work_.host_pooled_fractions);
  return c.num_experts * lb;
}

template <class T>
double MoeTransformer<T>::global_load_balancing(int layer) {
  const int E = config_.num_experts;
  const RouterSummary at{E};
  const auto& summary = rows_.blocks[layer].host_router_summary;
  double lb = 0;
  for (int e = 0; e < E; ++e) {
    double& sum = step_.global_fraction_sums[size_t(layer) * E + e];
    sum += summary(at.fraction(e));
    const double f = sum / step_.global_micro_batches;
    work_.host_global_fractions(layer, e) = T(f);
    lb += f * summary(at.mean_prob(e));
  }
  return E * lb;
}

template <class T>
View2<T> MoeTransformer<T>::balance_fractions(int layer) const {
  const auto& c = config_;
  if (c.lb_layers == BalanceLayers::pooled) return work_.pooled_fractions;
  if (c.lb_scope == BalanceScope::global_batch && step_.options.training) {
    return View2<T>(work_.global_fractions.data() + size_t(layer) * c.num_experts, 1, c.num_experts);
  }
  return rows_.blocks[layer].balance.fractions;
}

template <class T>
void MoeTransformer<T>::backward() {
  require(step_.has_gradient, "backward() needs a preceding forward() in training mode");
  step_.has_gradient = false;
  const auto& c = config_;
  auto& s = rows_.scratch;
  apply_dropout_backward(rows_.dfinal, c.n_layers, kHead);
  rmsnorm_backward(rows_.residual[c.n_layers], params_.vector(indices_.final_norm), rows_.final_rstd, rows_.dfinal,
                   s.dx, params_.vector_grad(indices_.final_norm), false);
  for (int l = c.n_layers - 1; l >= 0; --l) {
    ffn_backward(l);
    attention_backward(l);
  }
  apply_dropout_backward(s.dx, 0, kEmbedding);
  group_by_key(step_.batch.inputs, c.vocab_size, work_.token_offsets, work_.token_order, work_.token_grouping);
  embedding_backward(work_.token_offsets, work_.token_order, s.dx, T(std::sqrt(double(c.d_model))),
                     params_.matrix_grad(indices_.tok_emb));
}

template class MoeTransformer<float>;
template class MoeTransformer<double>;

}  // namespace kmoe
