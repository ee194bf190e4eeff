// Which assignments a full expert drops, and what its survivors' gates become
// (moe.drop_policy, moe.renorm_after_drop; docs/routing.md "Capacity").
//   position     the earliest (token, slot) assignments in token order are kept (the grouping's
//                order; Megatron "position", GShard-style drop-towards-the-end)
//   probability  the assignments with the highest gates are kept (Megatron "probs", DeepSpeed)
// Without renormalisation a dropped assignment's gate is simply unused (Megatron). With it, each
// token's surviving gates are rescaled to keep the sum the selection had: g'_s = γ·g_s / Σ_kept g_r
// (DeepSpeed's order: renormalise after dropping).
#pragma once

#include "core/views.hpp"
#include "kernels/expert_dispatch.hpp"

namespace kmoe::kernels {

enum class DropPolicy { position, probability };

// Reorders each expert's rows (order) by gate, highest first (ties → lower assignment index), so
// that the capacity keeps the highest; `scratch` holds ≥ the assignments' rows. Then assign_slots.
template <class T>
void order_by_gate(const View2<T>& gates, const ExpertAssignment& assignment, const View1<int>& scratch);

// kept_gates[n, s] = route_scale · gates[n, s] / Σ_{r kept} gates[n, r] for kept (n, s), else 0.
template <class T>
void renormalise_kept_gates_forward(const View2<T>& gates, const ExpertAssignment& assignment, double route_scale,
                                    const View2<T>& kept_gates);
// dgates holds ∂L/∂kept_gates on entry and ∂L/∂gates on exit.
template <class T>
void renormalise_kept_gates_backward(const View2<T>& gates, const ExpertAssignment& assignment, double route_scale,
                                     const View2<T>& dgates);

}  // namespace kmoe::kernels
