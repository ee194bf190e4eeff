// Dropout sites of the transformer (the stream of each mask is (layer, site, micro-step)).
#pragma once

namespace kmoe::dropout_site {
constexpr int kEmbedding = 0, kAttentionProbs = 1, kAttentionBranch = 2, kInsideExpert = 3, kFfnBranch = 4, kHead = 5,
              kInsideSharedExpert = 6;
constexpr int kSites = 7;
// Dropout streams numbered per layer (layer · 8 + site): room for one more site. The numbering
// decides every mask, so changing it changes every run.
constexpr int kStreamsPerLayer = 8;
static_assert(kSites <= kStreamsPerLayer);
}  // namespace kmoe::dropout_site
