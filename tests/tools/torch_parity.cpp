// Development aid: compares kmoe's double-precision forward/backward with
// shared/reference/torch_moe.py from the same weights (scripts/check-torch-parity.sh).
//   torch_parity init OUT.h5            write kmoe's initial weights for the parity config
//   torch_parity compare INIT.h5 REF.h5 load weights and tokens, compare losses and gradients
#include <cmath>
#include <cstdio>
#include <iostream>

#include "io/hdf5_reader.hpp"
#include "model/moe_transformer.hpp"
#include "model/weights_io.hpp"
#include "train/deck_settings.hpp"

using namespace kmoe;

namespace {

// Must match the flags scripts/check-torch-parity.sh passes to torch_moe.py.
ModelConfig parity_config() {
  ModelConfig c = model_config_from_deck(RunDeck{});
  c.vocab_size = 64;
  c.d_model = 32;
  c.n_heads = 4;
  c.n_layers = 2;
  c.seq_len = 16;
  c.num_experts = 4;
  c.top_k = 2;
  c.expert_d_ff = 48;
  c.dropout = 0.0;
  c.noise_std = 0.0;
  c.init_std = 0.02;
  return c;
}
constexpr double kLbWeight = 0.1, kZWeight = 0.01;

double relative(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-30); }

int compare(const std::string& init_path, const std::string& ref_path) {
  const auto c = parity_config();
  MoeTransformer<double> model(c, 0);
  load_weights(model.params(), init_path);
  const Hdf5Reader ref(ref_path);
  const auto idx = ref.read<int64_t>("tokens/idx"), tgt = ref.read<int64_t>("tokens/tgt");
  TokenBatch batch;
  batch.batch = static_cast<int>(idx.size()) / c.seq_len;
  batch.inputs = View1<int>("inputs", idx.size());
  batch.targets = View1<int>("targets", tgt.size());
  auto hi = Kokkos::create_mirror_view(batch.inputs);
  auto ht = Kokkos::create_mirror_view(batch.targets);
  for (size_t i = 0; i < idx.size(); ++i) {
    hi(i) = static_cast<int>(idx[i]);
    ht(i) = static_cast<int>(tgt[i]);
  }
  Kokkos::deep_copy(batch.inputs, hi);
  Kokkos::deep_copy(batch.targets, ht);
  StepOptions options = training_step_options(RunDeck{}, 0, kLbWeight);
  options.grad_scale = 1.0;
  options.z_weight = kZWeight;
  model.params().zero_grads();
  const auto result = model.forward(batch, options);
  model.backward();

  double worst = 0;
  const auto report = [&](const std::string& what, double ours, double theirs) {
    const double r = relative(ours, theirs);
    worst = std::max(worst, r);
    std::printf("%-28s kmoe %.12e  torch %.12e  rel %.2e\n", what.c_str(), ours, theirs, r);
  };
  const auto scalar = [&](const char* name) { return ref.number_attribute("/", name); };
  report("loss", result.total_loss, scalar("loss"));
  report("cross_entropy", result.cross_entropy, scalar("ce"));
  report("load_balancing (sum)", result.load_balancing, scalar("lb"));
  report("z_loss (sum)", result.z_loss, scalar("z"));
  const auto grads = Kokkos::create_mirror_view_and_copy(HostSpace(), model.params().grads());
  for (const auto& s : model.params().specs()) {
    const auto theirs = ref.read<double>("grad/" + s.name);
    double diff = 0, norm = 0;
    for (size_t j = 0; j < s.size(); ++j) {
      diff = std::max(diff, std::fabs(grads(s.offset + j) - theirs[j]));
      norm = std::max(norm, std::fabs(theirs[j]));
    }
    const double r = diff / std::max(norm, 1e-30);
    worst = std::max(worst, r);
    std::printf("grad %-23s max|diff|/max|torch| %.2e\n", s.name.c_str(), r);
  }
  std::printf("worst relative difference: %.2e (%s 1e-6)\n", worst, worst <= 1e-6 ? "within" : "ABOVE");
  return worst <= 1e-6 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::initialize(argc, argv);
  int status = 2;
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "init" && argc == 3) {
      MoeTransformer<double> model(parity_config(), 42);
      save_weights(model.params(), argv[2]);
      status = 0;
    } else if (cmd == "compare" && argc == 4) {
      status = compare(argv[2], argv[3]);
    } else {
      std::cerr << "usage: torch_parity init OUT.h5 | compare INIT.h5 REF.h5\n";
    }
  } catch (const std::exception& err) {
    std::cerr << "torch_parity: " << err.what() << "\n";
    status = 1;
  }
  Kokkos::finalize();
  return status;
}
