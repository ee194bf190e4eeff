// Muon against its host definition.
#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "host_newton_schulz.hpp"
#include "optim/muon.hpp"

using namespace kmoe;
using namespace kmoe::testing;

namespace {

std::vector<double> muon_step(bool nesterov, const std::vector<double>& g0, const std::vector<double>& g1) {
  View1<double> params("p", 24), grads("g", 24);
  Kokkos::deep_copy(params, 1.0);
  Muon<double> opt({MatrixSegment{0, 6, 4}}, MuonSettings{0.9, nesterov, 5, kernels::Matmul::fp32});
  for (const auto* g : {&g0, &g1}) {
    auto h = Kokkos::create_mirror_view(grads);
    for (int i = 0; i < 24; ++i) h(i) = (*g)[i];
    Kokkos::deep_copy(grads, h);
    opt.update(params, grads, 0.1);
  }
  return to_vector(params);
}

TEST(Muon, TwoStepsMatchTheHostDefinitionWithAndWithoutNesterov) {
  std::vector<double> g0(24), g1(24);
  for (int i = 0; i < 24; ++i) {
    g0[i] = rng::normal(5, 1, i);
    g1[i] = rng::normal(5, 2, i);
  }
  for (bool nesterov : {true, false}) {
    std::vector<double> p(24, 1.0), m(24, 0.0);
    for (const auto* g : {&g0, &g1}) {
      std::vector<double> u(24);
      for (int i = 0; i < 24; ++i) {
        m[i] += 0.1 * ((*g)[i] - m[i]);
        u[i] = nesterov ? 0.1 * (*g)[i] + 0.9 * m[i] : m[i];
      }
      const auto x = host_newton_schulz(u, 6, 4, 5);
      for (int i = 0; i < 24; ++i) p[i] -= 0.1 * std::sqrt(1.5) * x[i];
    }
    const auto got = muon_step(nesterov, g0, g1);
    for (int i = 0; i < 24; ++i) EXPECT_NEAR(got[i], p[i], 1e-12) << "nesterov " << nesterov;
  }
  EXPECT_NE(muon_step(true, g0, g1), muon_step(false, g0, g1));
}

}  // namespace
