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
  tok_emb_ = params_.index_of("tok_emb");
  final_norm_ = params_.index_of("final_norm");
  for (int l = 0; l < config.n_layers; ++l) {
    const std::string p = "blocks." + std::to_string(config.weight_sharing ? 0 : l) + ".";
    BlockParams b{};
    b.attn_norm = params_.index_of(p + "attn_norm");
    b.wq = params_.index_of(p + "wq");
    b.wk = params_.index_of(p + "wk");
    b.wv = params_.index_of(p + "wv");
    b.wo = params_.index_of(p + "wo");
    b.ffn_norm = params_.index_of(p + "ffn_norm");
    if (config.moe) {
      b.router = params_.index_of(p + "router");
      b.first_expert = params_.index_of(p + "experts.0.w1");
    } else {
      b.ffn_w1 = params_.index_of(p + "ffn.w1");
      b.ffn_w2 = params_.index_of(p + "ffn.w2");
    }
    block_params_.push_back(b);
  }
  routing_bias_ = View2<T>("routing_bias", config.n_layers, config.num_experts);
  rope_table_ = RopeTable<T>(config.seq_len, config.head_dim(), config.rope_base);
}

template <class T>
void MoeTransformer<T>::update_routing_bias(const ForwardResult& update, double rate) {
  if (!config_.moe) return;
  auto bias = Kokkos::create_mirror_view_and_copy(HostSpace(), routing_bias_);
  for (int l = 0; l < config_.n_layers; ++l) {
    const auto& load = update.layers[l].expert_tokens;
    double mean = 0;
    for (auto n : load) mean += double(n) / double(load.size());
    for (int e = 0; e < config_.num_experts; ++e) {
      const double gap = mean - double(load[e]);
      bias(l, e) += T(rate * ((gap > 0) - (gap < 0)));
    }
  }
  Kokkos::deep_copy(routing_bias_, bias);
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
void MoeTransformer<T>::ensure_buffers(int tokens) {
  if (tokens == tokens_) return;
  const auto& c = config_;
  if (tokens > capacity_tokens_) {
    capacity_tokens_ = tokens;
    auto& b = capacity_;
    b.residual.clear();
    for (int l = 0; l <= c.n_layers; ++l) b.residual.emplace_back("residual", tokens, c.d_model);
    b.blocks.clear();
    for (int l = 0; l < c.n_layers; ++l) b.blocks.emplace_back(c, tokens);
    b.ffn_out = View2<T>("ffn_out", tokens, c.d_model);
    b.final_normed = View2<T>("final_normed", tokens, c.d_model);
    b.dfinal = View2<T>("dfinal", tokens, c.d_model);
    b.final_rstd = View1<T>("final_rstd", tokens);
    b.scratch = BackwardScratch<T>(c, tokens);
    // Sized by the capacity; kernels use the rows or bytes the batch needs.
    cross_entropy_scratch_ = CrossEntropyScratch<T>(std::min(tokens, kLogitsChunkRows), c.vocab_size);
    token_offsets_ = View1<int>("token_offsets", c.vocab_size + 1);
    token_order_ = View1<int>("token_order", tokens);
    dropout_kept_ = View2<uint8_t>("dropout_kept", c.dropout > 0 ? (c.n_layers + 1) * dropout_site::kSites : 0,
                                   kernels::dropout_bit_bytes(size_t(tokens) * c.d_model));
  }
  tokens_ = tokens;
  const auto& b = capacity_;
  residual_.clear();
  for (const auto& r : b.residual) residual_.push_back(first_rows(r, tokens));
  blocks_.clear();
  for (const auto& block : b.blocks) blocks_.push_back(block.first_tokens(c, tokens));
  ffn_out_ = first_rows(b.ffn_out, tokens);
  final_normed_ = first_rows(b.final_normed, tokens);
  dfinal_ = first_rows(b.dfinal, tokens);
  final_rstd_ = first_rows(b.final_rstd, tokens);
  scratch_ = b.scratch.first_tokens(c, tokens);
}

template <class T>
uint64_t MoeTransformer<T>::dropout_stream(int layer, int site) const {
  return rng::stream_id(rng::Purpose::Dropout, static_cast<uint32_t>(layer * 8 + site),
                        static_cast<uint32_t>(options_.rng_step));
}

template <class T>
View1<uint8_t> MoeTransformer<T>::dropout_kept(int layer, int site) const {
  return Kokkos::subview(dropout_kept_, layer * dropout_site::kSites + site, Kokkos::ALL());
}

template <class T>
void MoeTransformer<T>::apply_dropout(const View2<T>& x, int layer, int site) const {
  if (options_.training) {
    dropout_forward(x, config_.dropout, options_.seed, dropout_stream(layer, site), dropout_kept(layer, site));
  }
}

template <class T>
void MoeTransformer<T>::apply_dropout_backward(const View2<T>& x, int layer, int site) const {
  if (options_.training) dropout_backward(x, config_.dropout, dropout_kept(layer, site));
}

template <class T>
ForwardResult MoeTransformer<T>::forward(const TokenBatch& batch, const StepOptions& options) {
  const auto& c = config_;
  const int tokens = batch.batch * c.seq_len;
  require(static_cast<int>(batch.inputs.extent(0)) == tokens && static_cast<int>(batch.targets.extent(0)) == tokens,
          "batch holds " + std::to_string(batch.inputs.extent(0)) +
              " tokens, expected batch·seq_len = " + std::to_string(tokens));
  ensure_buffers(tokens);
  batch_ = batch;
  options_ = options;

  embedding_forward(batch.inputs, params_.matrix(tok_emb_), T(std::sqrt(double(c.d_model))), residual_[0]);
  apply_dropout(residual_[0], 0, kEmbedding);

  ForwardResult result;
  result.layers.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    attention_forward(l, residual_[l]);
    ffn_forward(l, result.layers[l]);
    result.load_balancing += result.layers[l].load_balancing;
    result.z_loss += result.layers[l].z_loss;
  }

  rmsnorm_forward(residual_[c.n_layers], params_.vector(final_norm_), T(c.norm_eps), final_normed_, final_rstd_);
  apply_dropout(final_normed_, c.n_layers, kHead);
  const View2<T> no_grad;
  const auto ce = tied_head_cross_entropy(
      final_normed_, params_.matrix(tok_emb_), batch.targets, cross_entropy_scratch_, T(options.grad_scale / tokens),
      options.training ? dfinal_ : no_grad, options.training ? params_.matrix_grad(tok_emb_) : no_grad, c.matmul);
  has_gradient_state_ = options.training;

  result.tokens = tokens;
  result.correct = ce.correct;
  result.cross_entropy = ce.loss_sum / tokens;
  result.total_loss =
      result.cross_entropy + options.lb_weight * result.load_balancing + options.z_weight * result.z_loss;
  return result;
}

template <class T>
void MoeTransformer<T>::backward() {
  require(has_gradient_state_, "backward() needs a preceding forward() in training mode");
  has_gradient_state_ = false;
  const auto& c = config_;
  auto& s = scratch_;
  apply_dropout_backward(dfinal_, c.n_layers, kHead);
  rmsnorm_backward(residual_[c.n_layers], params_.vector(final_norm_), final_rstd_, dfinal_, s.dx,
                   params_.vector_grad(final_norm_), false);
  for (int l = c.n_layers - 1; l >= 0; --l) {
    ffn_backward(l);
    attention_backward(l);
  }
  apply_dropout_backward(s.dx, 0, kEmbedding);
  group_by_key(batch_.inputs, c.vocab_size, token_offsets_, token_order_, token_grouping_);
  embedding_backward(token_offsets_, token_order_, s.dx, T(std::sqrt(double(c.d_model))),
                     params_.matrix_grad(tok_emb_));
}

template class MoeTransformer<float>;
template class MoeTransformer<double>;

}  // namespace kmoe
