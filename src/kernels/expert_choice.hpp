// Expert-choice routing (Zhou et al. 2022; flaxformer's ExpertsChooseMaskedRouter): within each
// group of consecutive tokens (the micro-batch, or each sequence), every expert takes the
// `capacity` tokens with the highest scores s[n, e] (ties → the lower token index). A token may be
// taken by 0..E experts. The assignment has E slots per token (slot e = expert e): assignment
// n·E + e is kept when expert e took token n, dropped (slot_of = −1) otherwise. Expert e's rows are
// [e·G·C, (e+1)·G·C), group g's C of them in rank order. Not causal: a token's experts depend on
// the later tokens of its group.
#pragma once

#include "core/views.hpp"
#include "kernels/expert_dispatch.hpp"

namespace kmoe::kernels {

// Tokens each expert takes per group: ⌈factor · group_tokens · k / experts⌉, at most the group
// (k = moe.top_k: at factor 1 the experts process as many rows as top-k token choice does).
int expert_choice_capacity(double factor, int group_tokens, int k, int experts);

// Fills `assignment` (offsets, order, slot_of; k = experts, capacity = G·C) from scores [T, E].
template <class T>
void choose_tokens(const View2<T>& scores, int group_tokens, int capacity, ExpertAssignment& assignment);

}  // namespace kmoe::kernels
