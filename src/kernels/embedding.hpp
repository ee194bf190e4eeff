// Token embedding lookup (scaled) and its deterministic scatter-add backward.
#pragma once

#include "core/views.hpp"

namespace kmoe::kernels {

// out[n, :] = scale · table[tokens[n], :]
template <class T>
void embedding_forward(const View1<int>& tokens, const View2<T>& table, T scale, const View2<T>& out);

// dtable[v, :] += scale · Σ_{n: tokens[n] = v} dout[n, :], summed in increasing n.
// `offsets`/`order` are tokens grouped by id (token_grouping.hpp: group_by_key).
template <class T>
void embedding_backward(const View1<int>& offsets, const View1<int>& order, const View2<T>& dout, T scale,
                        const View2<T>& dtable);

}  // namespace kmoe::kernels
