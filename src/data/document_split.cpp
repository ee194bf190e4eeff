#include "data/document_split.hpp"

#include "core/counter_rng.hpp"

namespace kmoe {

std::vector<Split> split_documents(size_t documents, uint64_t split_seed, double holdout_fraction,
                                   double test_fraction) {
  const uint64_t holdout_stream = rng::stream_id(rng::Purpose::DataOrder, 1);
  const uint64_t test_stream = rng::stream_id(rng::Purpose::DataOrder, 2);
  std::vector<Split> out(documents, Split::Train);
  for (size_t i = 0; i < documents; ++i) {
    if (rng::uniform(split_seed, holdout_stream, i) < holdout_fraction) {
      out[i] = rng::uniform(split_seed, test_stream, i) < test_fraction ? Split::Test : Split::Validation;
    }
  }
  return out;
}

}  // namespace kmoe
