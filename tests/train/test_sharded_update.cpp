// The update after the backward passes on one process: its norm (summed by blocks, the blocks'
// sums added on the host) has the bits of gradient_norm, its clipping those of clip_to_max_norm,
// and a non-finite gradient is caught. (Several ranks: tests/python/test_mpi_ranks.py.)
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gradient_check.hpp"
#include "io/run_deck.hpp"
#include "model/moe_transformer.hpp"
#include "optim/grad_clip.hpp"
#include "tiny_model.hpp"
#include "train/deck_settings.hpp"
#include "train/sharded_update.hpp"

using namespace kmoe;
using namespace kmoe::testing;

namespace {

// The first block's squares sum to about 2047; each later block's to about a third of that sum's
// unit in the last place: added after it one by one they vanish, added together first they do not.
// So the norm's bits say in which order the blocks' sums were added.
void fill_gradients(const View1<float>& grads) {
  auto host = Kokkos::create_mirror_view(grads);
  for (size_t i = 0; i < host.extent(0); ++i) {
    host(i) = float(std::sin(0.37 * double(i)) * (i < OrderedSum::kBlock ? 1.0 : 8e-9));
  }
  Kokkos::deep_copy(grads, host);
}

TEST(ShardedUpdate, OneProcessNormAndClippingHaveTheBitsOfTheWholeBufferFunctions) {
  auto config = tiny_config();
  config.vocab_size = 1999;  // the tied embedding makes the buffer a few blocks long
  MoeTransformer<float> model(config, 42);
  auto& params = model.params();
  ASSERT_GT(params.grads().extent(0) % OrderedSum::kBlock, 0u);  // a partial last block
  ASSERT_GT(params.grads().extent(0), 2 * OrderedSum::kBlock);
  ShardedUpdate update(params, optimizer_settings_from_deck(RunDeck{}), Communicator::world(), true);
  fill_gradients(params.grads());
  OrderedSum sum;
  const double expected = gradient_norm(params.grads(), sum);
  View1<float> reference("reference", params.grads().extent(0));
  Kokkos::deep_copy(reference, params.grads());
  clip_to_max_norm(reference, expected, 0.5 * expected);
  EXPECT_EQ(update.clip(0.5 * expected), expected);  // bit for bit
  EXPECT_EQ(to_vector(params.grads()), to_vector(reference));
  EXPECT_TRUE(update.gradients_finite());
  auto host = Kokkos::create_mirror_view_and_copy(HostSpace(), params.grads());
  host(host.extent(0) - 1) = std::numeric_limits<float>::infinity();
  Kokkos::deep_copy(params.grads(), host);
  EXPECT_FALSE(update.gradients_finite());
}

}  // namespace
