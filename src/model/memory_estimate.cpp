#include "model/memory_estimate.hpp"

#include <algorithm>
#include <climits>

#include "kernels/causal_attention.hpp"
#include "kernels/cross_entropy.hpp"
#include "kernels/elementwise.hpp"
#include "model/layer_buffers.hpp"

namespace kmoe {

namespace {
// Rows of the grouped expert buffers (tokens may be past int here).
double routed_rows(const ModelConfig& c, double tokens) {
  if (!c.moe) return tokens;
  if (c.routing() != kernels::Routing::expert_choice) return tokens * c.top_k;
  const double groups = c.expert_choice_per_sequence ? tokens / c.seq_len : 1;
  return std::min(tokens * c.num_experts, tokens * c.top_k * c.capacity_factor + c.num_experts * groups);
}
}  // namespace

MemoryEstimate estimate_training_memory(const ModelConfig& c, int64_t parameters, int64_t tokens, int value_bytes,
                                        double optimizer_scratch, int ranks) {
  const double N = double(tokens), D = c.d_model, L = c.n_layers, H = c.n_heads, P = double(parameters);
  const double rows = routed_rows(c, N), F = c.moe ? c.expert_d_ff : c.d_ff;
  const double router = c.moe ? N * (3.0 * c.num_experts + 2.0 * c.slots()) : 0;
  const double S = c.shared_width(), shared = S > 0 ? N * (2 * S + D + 1) : 0;
  const double per_layer = 7 * N * D + N * H + 2 * N + 2 * rows * D + 2 * rows * F + router + shared;
  const double scratch = 7 * N * D + 2 * rows * D + 2 * rows * F + router + shared;
  const double attention = 9 * N * D + 2 * std::min(double(kernels::kAttentionScoreElements), N * c.seq_len);
  const double logits = std::min(N, double(kernels::kLogitsChunkRows)) * c.vocab_size;
  // Recorded dropout masks: a bit per FFN activation and the attention probabilities' words.
  const double mask_bytes_per_layer =
      c.dropout > 0
          ? double(kernels::dropout_bit_bytes(size_t(rows * F))) + double(kernels::dropout_bit_bytes(size_t(N * S))) +
                double(kernels::attention_kept_words(attention_shape(c, tokens))) * sizeof(uint32_t)
          : 0;
  MemoryEstimate m;
  // Values, gradients, two moments (AdamW) or momentum (Muon) of this rank's share, and the
  // optimizer's workspace; on several ranks also the ranks' subtree sums of this rank's share.
  const double received = ranks > 1 ? P : 0;
  m.state_bytes = (2 * P + 2 * P / ranks + received + optimizer_scratch) * value_bytes;
  m.activation_bytes =
      (L * per_layer + scratch + (L + 4) * N * D + attention + logits) * value_bytes + L * mask_bytes_per_layer;
  m.checkpoint_bytes = 2 * 4 * P * sizeof(float);  // host copies of the four tensors, then the payload
  return m;
}

std::string index_range_problem(const ModelConfig& c, int64_t tokens) {
  const double N = double(tokens), rows = routed_rows(c, N), F = c.moe ? c.expert_d_ff : c.d_ff;
  const struct {
    const char* what;
    double elements;
  } buffers[] = {
      {"batch_size x seq_len x d_model (activations)", N * c.d_model},
      {"routed rows x expert width (expert hidden)", rows * F},
      {"vocab_size x d_model (embedding)", double(c.vocab_size) * c.d_model},
      {"logits block x vocab_size", double(kernels::kLogitsChunkRows) * c.vocab_size},
      {"tokens x num_experts (router)", N * c.num_experts},
      {"experts x expert width x d_model (expert weights)", double(c.num_experts) * F * c.d_model},
  };
  for (const auto& b : buffers) {
    if (b.elements > double(INT_MAX)) {
      return std::string(b.what) + " is " + std::to_string(int64_t(b.elements)) + " elements, above the " +
             std::to_string(INT_MAX) + " a kernel can index";
    }
  }
  return "";
}

}  // namespace kmoe
