#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/counter_rng.hpp"

using namespace kmoe::rng;

namespace {

// Known-answer vectors from the Random123 distribution (kat_vectors, philox4x32 10 rounds).
TEST(CounterRng, PhiloxKnownAnswers) {
  const Block4 zero = philox4x32(0, 0, 0);
  EXPECT_EQ(zero.v[0], 0x6627e8d5u);
  EXPECT_EQ(zero.v[1], 0xe169c58du);
  EXPECT_EQ(zero.v[2], 0xbc57ac4cu);
  EXPECT_EQ(zero.v[3], 0x9b00dbd8u);
  const Block4 ones = philox4x32(~uint64_t{0}, ~uint64_t{0}, ~uint64_t{0});
  EXPECT_EQ(ones.v[0], 0x408f276du);
  EXPECT_EQ(ones.v[1], 0x41c83b0eu);
  EXPECT_EQ(ones.v[2], 0xa20bc7c6u);
  EXPECT_EQ(ones.v[3], 0x6d5451fdu);
  const Block4 pi = philox4x32(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull);
  EXPECT_EQ(pi.v[0], 0xd16cfe09u);
  EXPECT_EQ(pi.v[1], 0x94fdccebu);
  EXPECT_EQ(pi.v[2], 0x5001e420u);
  EXPECT_EQ(pi.v[3], 0x24126ea1u);
}

constexpr int kCount = 1 << 16;

template <class Space>
std::vector<double> normals_on(uint64_t seed, uint64_t stream) {
  Kokkos::View<double*, typename Space::memory_space> out("normals", kCount);
  Kokkos::parallel_for(
      "normals", Kokkos::RangePolicy<Space>(0, kCount),
      KOKKOS_LAMBDA(int i) { out(i) = normal(seed, stream, static_cast<uint64_t>(i)); });
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  return std::vector<double>(host.data(), host.data() + kCount);
}

std::vector<double> normals_by_plain_loop(uint64_t seed, uint64_t stream) {
  std::vector<double> v(kCount);
  for (int i = 0; i < kCount; ++i) v[i] = normal(seed, stream, static_cast<uint64_t>(i));
  return v;
}

TEST(CounterRng, SideBySideBlocksEqualSingleBlocks) {
  for (uint64_t first : {uint64_t(0), uint64_t(12345), (uint64_t(1) << 32) - 2}) {  // and across the 32-bit carry
    uint32_t side_by_side[32];
    philox4x32_words<8>(0x299f31d0a4093822ull, 77, first, side_by_side);
    for (int b = 0; b < 8; ++b) {
      const Block4 single = philox4x32(0x299f31d0a4093822ull, 77, first + b);
      for (int w = 0; w < 4; ++w) EXPECT_EQ(side_by_side[4 * b + w], single.v[w]) << first << " + " << b;
    }
  }
}

TEST(CounterRng, SameValuesOnEveryBackendAndThreadCount) {
  const uint64_t seed = 42, stream = stream_id(Purpose::RouterNoise, 3, 17);
  const auto expected = normals_by_plain_loop(seed, stream);
#if defined(KOKKOS_ENABLE_SERIAL)
  EXPECT_EQ(normals_on<Kokkos::Serial>(seed, stream), expected);
#endif
#if defined(KOKKOS_ENABLE_OPENMP)
  EXPECT_EQ(normals_on<Kokkos::OpenMP>(seed, stream), expected);
#endif
  const auto on_default = normals_on<Kokkos::DefaultExecutionSpace>(seed, stream);
  if (Kokkos::SpaceAccessibility<Kokkos::DefaultExecutionSpace, Kokkos::HostSpace>::accessible) {
    EXPECT_EQ(on_default, expected);
  } else {
    // A device's log and cos may differ from the host's in the last bits of a double: the
    // normals agree to a few ulps, and bit for bit once rounded to float, the precision the
    // model draws its weights and router noise in.
    for (int i = 0; i < kCount; ++i) {
      ASSERT_NEAR(on_default[i], expected[i], 4e-15) << i;
      ASSERT_EQ(float(on_default[i]), float(expected[i])) << i;
    }
  }
}

TEST(CounterRng, NormalMomentsMatchStandardNormal) {
  const auto v = normals_by_plain_loop(7, stream_id(Purpose::Test));
  double mean = 0, m2 = 0, m4 = 0;
  for (double x : v) mean += x;
  mean /= kCount;
  for (double x : v) {
    m2 += (x - mean) * (x - mean);
    m4 += std::pow(x - mean, 4);
  }
  m2 /= kCount;
  m4 /= kCount;
  // Standard errors at n = 65536: mean 0.004, variance 0.0055, kurtosis ~0.02.
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(m2, 1.0, 0.03);
  EXPECT_NEAR(m4 / (m2 * m2), 3.0, 0.1);
}

TEST(CounterRng, UniformIsInOpenIntervalWithMeanHalf) {
  double sum = 0;
  for (int i = 0; i < kCount; ++i) {
    const double u = uniform(1, 2, static_cast<uint64_t>(i));
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / kCount, 0.5, 0.005);
}

TEST(CounterRng, StreamsAndSeedsAreIndependent) {
  EXPECT_NE(normal(42, stream_id(Purpose::Init, 0), 5), normal(42, stream_id(Purpose::Init, 1), 5));
  EXPECT_NE(normal(42, stream_id(Purpose::Init, 0), 5), normal(43, stream_id(Purpose::Init, 0), 5));
  EXPECT_NE(stream_id(Purpose::Init, 1, 0), stream_id(Purpose::Dropout, 1, 0));
}

}  // namespace
