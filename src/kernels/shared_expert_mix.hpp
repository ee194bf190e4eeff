// How the always-on shared experts' output joins the routed experts' (moe.shared_gate):
//   none     out = routed + shared                          (DeepSeek-V2/V3, torchtitan)
//   sigmoid  out = routed + σ(x·w_g) · shared, w_g a d_model vector   (Qwen2-MoE, Megatron's gate)
//   convex   out = k/(k+1) · routed + 1/(k+1) · shared      (OLMo-core)
#pragma once

#include "core/views.hpp"

namespace kmoe::kernels {

enum class SharedGate { none, sigmoid, convex };

// In place on `routed` [N, D]. `gate` [N, 1] holds the gate logits x·w_g on entry (sigmoid) and
// σ of them on exit, for the backward; unused otherwise.
template <class T>
void shared_expert_mix_forward(SharedGate rule, int k, const View2<T>& shared, const View2<T>& gate,
                               const View2<T>& routed);

// From dout = ∂L/∂out: dshared = β·dout (β = 1, σ_n or 1/(k+1)), dgate_n = σ_n(1 − σ_n)·⟨dout_n, shared_n⟩
// (sigmoid), and dout becomes ∂L/∂routed in place (× k/(k+1) for convex).
template <class T>
void shared_expert_mix_backward(SharedGate rule, int k, const View2<T>& shared, const View2<T>& gate,
                                const View2<T>& dout, const View2<T>& dshared, const View2<T>& dgate);

}  // namespace kmoe::kernels
