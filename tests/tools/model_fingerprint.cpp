// Prints a bitwise hash of the initial weights and the training losses of a small model, so
// tests/python/test_determinism.py can compare runs across thread counts.
#include <cstdio>
#include <cstring>

#include "core/fnv_hash.hpp"
#include "model/moe_transformer.hpp"
#include "train/deck_settings.hpp"

using namespace kmoe;

int main(int argc, char** argv) {
  Kokkos::initialize(argc, argv);
  {
    ModelConfig c = model_config_from_deck(RunDeck{});
    c.vocab_size = 97;
    c.d_model = 32;
    c.n_heads = 4;
    c.n_layers = 2;
    c.seq_len = 16;
    c.num_experts = 4;
    c.top_k = 2;
    c.expert_d_ff = 64;
    c.noise_std = 0.5;
    c.dropout = 0.1;
    MoeTransformer<float> model(c, 42);
    const auto values = Kokkos::create_mirror_view_and_copy(HostSpace(), model.params().values());
    const uint64_t hash = fnv1a64(values.data(), values.span() * sizeof(float));
    std::printf("init_hash %016llx\n", static_cast<unsigned long long>(hash));
    TokenBatch batch;
    batch.batch = 4;
    batch.inputs = View1<int>("inputs", 4 * c.seq_len);
    batch.targets = View1<int>("targets", 4 * c.seq_len);
    auto hi = Kokkos::create_mirror_view(batch.inputs);
    auto ht = Kokkos::create_mirror_view(batch.targets);
    for (int i = 0; i < 4 * c.seq_len; ++i) {
      hi(i) = (i * 31 + 7) % c.vocab_size;
      ht(i) = (i * 17 + 3) % c.vocab_size;
    }
    Kokkos::deep_copy(batch.inputs, hi);
    Kokkos::deep_copy(batch.targets, ht);
    StepOptions options = training_step_options(RunDeck{}, 0, RunDeck{}.moe.load_balancing_weight);
    options.grad_scale = 1.0;
    options.z_weight = 0.001;
    const auto r = model.forward(batch, options);
    std::printf("loss %.9e\nce %.9e\nlb %.9e\nz %.9e\n", r.total_loss, r.cross_entropy, r.load_balancing, r.z_loss);
    std::printf("expert_tokens");
    for (const auto& layer : r.layers)
      for (auto n : layer.expert_tokens) std::printf(" %lld", static_cast<long long>(n));
    std::printf("\n");
  }
  Kokkos::finalize();
  return 0;
}
