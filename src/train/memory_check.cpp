#include "train/memory_check.hpp"

#include <iomanip>
#include <sstream>

#include "core/error.hpp"
#include "core/memory_ledger.hpp"
#include "core/peak_memory.hpp"
#include "data/batch_sampler.hpp"
#include "model/memory_estimate.hpp"
#include "model/parameter_registry.hpp"
#include "optim/hybrid_optimizer.hpp"
#include "train/deck_settings.hpp"
#include "train/model_from_deck.hpp"

namespace kmoe {

namespace {

constexpr double kGiB = 1024.0 * kMiB;
constexpr bool kModelOnDevice = !Kokkos::SpaceAccessibility<HostSpace, MemSpace>::accessible;

}  // namespace

void check_memory_fits(const RunDeck& deck, int ranks) {
  const auto config = model_config_from_deck(deck);
  const int64_t tokens = deck.train.batch_size * deck.model.seq_len;
  const std::string range = index_range_problem(config, tokens);
  require(range.empty(), deck.source + ": the model is too large for kmoe's kernels: " + range);
  const auto specs = build_parameter_specs(config);
  const int64_t parameters = count_parameters(specs).total;
  const double muon_scratch =
      double(muon_scratch_elements(muon_matrices(specs, optimizer_settings_from_deck(deck).joint_qkv)));
  const auto need = estimate_training_memory(config, parameters, tokens, sizeof(float), muon_scratch, ranks);
  // The checkpoint's transient copies live on the host; on a device build the rest is the GPU's.
  const double needed = kModelOnDevice ? need.state_bytes + need.activation_bytes : need.total();
  const double available = (kModelOnDevice ? available_device_memory_mib() : available_host_memory_mib()) * kMiB;
  if (available > 0 && needed > available) {
    std::ostringstream msg;
    msg << std::fixed << std::setprecision(2) << deck.source << ": this run needs about " << needed / kGiB << " GiB of "
        << (kModelOnDevice ? "GPU" : "host") << " memory (parameters and optimizer state " << need.state_bytes / kGiB
        << " GiB, activations for " << tokens << " tokens per micro-batch " << need.activation_bytes / kGiB << " GiB";
    if (!kModelOnDevice) msg << ", checkpoint copies " << need.checkpoint_bytes / kGiB << " GiB";
    msg << ") but " << available / kGiB
        << " GiB are available; reduce train.batch_size, model.seq_len or the model's size";
    throw Error(msg.str());
  }
}

void allocate_before_first_step(MoeTransformer<float>& model, const RunDeck& deck) {
  const int batch_size = int(deck.train.batch_size);
  try {
    TokenBatch batch = make_batch(batch_size, int(deck.model.seq_len));
    Kokkos::deep_copy(batch.inputs, 0);
    Kokkos::deep_copy(batch.targets, 0);
    model.forward(batch, training_step_options(deck, 0, deck.moe.load_balancing_weight));
    model.backward();
    model.params().zero_grads();
    Kokkos::fence();
  } catch (const std::exception& e) {
    std::ostringstream msg;
    msg << std::fixed << std::setprecision(2) << deck.source << ": allocating the buffers for " << batch_size
        << " sequences of " << deck.model.seq_len << " tokens failed with " << memory_ledger().current_bytes / kGiB
        << " GiB already held in " << MemSpace::name()
        << "; reduce train.batch_size, model.seq_len or the model's size (" << e.what() << ")";
    throw Error(msg.str());
  }
}

}  // namespace kmoe
