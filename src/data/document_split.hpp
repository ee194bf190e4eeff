// Deterministic document-level train / validation / test split: document i is held out when
// uniform(split_seed, i) < holdout_fraction; a held-out document goes to test when a second
// draw is < test_fraction. Depends only on the seed, the fractions and the document order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kmoe {

enum class Split { Train = 0, Validation = 1, Test = 2 };

std::vector<Split> split_documents(size_t documents, uint64_t split_seed, double holdout_fraction,
                                   double test_fraction);

}  // namespace kmoe
