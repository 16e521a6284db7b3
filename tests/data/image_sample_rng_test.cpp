// The per-sample Philox streams (data/image/sample_rng.h): the counter layout of docs/rng.md,
// separation from the trainer's Generator, and the draws' distributions.

#include "data/image/sample_rng.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <vector>

#include "kernels/philox.h"

using namespace ff::data;
namespace philox = ff::kernels::philox;

TEST_CASE("sample streams use the documented counter layout", "[data][image]") {
  // counter = (block, lo32(index), epoch, 0x80000000 | kind << 24 | repeat), key = seed.
  const uint64_t seed = 0x0123456789ABCDEFull;
  SampleRng rng(seed, 7, 123456, 2, RngStream::kSample);
  const uint32_t k0 = 0x89ABCDEFu, k1 = 0x01234567u;
  const philox::Block b0 = philox::philox4x32_10({{0, 123456, 7, 0x81000002u}}, k0, k1);
  const philox::Block b1 = philox::philox4x32_10({{1, 123456, 7, 0x81000002u}}, k0, k1);
  for (int i = 0; i < 4; ++i) CHECK(rng.next_u32() == b0.v[i]);
  for (int i = 0; i < 4; ++i) CHECK(rng.next_u32() == b1.v[i]);
  CHECK(rng.blocks_read() == 2);
  SampleRng batch(seed, 7, 5, 0, RngStream::kBatch);
  CHECK(batch.next_u32() == philox::philox4x32_10({{0, 5, 7, 0x82000000u}}, k0, k1).v[0]);
  SampleRng shuffle(seed, 7, 0, 0, RngStream::kShuffle);
  CHECK(shuffle.next_u32() == philox::philox4x32_10({{0, 0, 7, 0x83000000u}}, k0, k1).v[0]);
}

TEST_CASE("sample streams never meet the trainer's Generator streams", "[data][image]") {
  // Generator fills read counters (group lo, group hi, lo32(offset), hi32(offset)). Without
  // bit 31 of the last word, sample 0 of epoch E would be the first block of the fill at
  // offset E + (kind << 24 << 32): the tag bit is what keeps them apart.
  const uint64_t seed = 1111;
  for (uint64_t epoch : {0ull, 1ull, 299ull}) {
    SampleRng rng(seed, epoch, 0, 0, RngStream::kSample);
    const uint64_t offset = epoch | (uint64_t{1} << 24 << 32);
    const philox::Block fill = philox::block_for(ff::kernels::PhiloxState{seed, offset}, 0);
    const philox::Block untagged = philox::philox4x32_10(
        {{0, 0, static_cast<uint32_t>(epoch), 1u << 24}}, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    REQUIRE(fill.v[0] == untagged.v[0]);  // the collision the tag avoids
    CHECK(rng.next_u32() != fill.v[0]);
  }
  // A Generator's offset would need bit 63 set to reach a tagged counter: 2^63 random ops.
  const philox::Block gen = philox::block_for(ff::kernels::PhiloxState{seed, uint64_t{1} << 63}, 0);
  CHECK(gen.v[0] == philox::philox4x32_10({{0, 0, 0, 0x80000000u}}, 1111u, 0u).v[0]);
}

TEST_CASE("a stream depends on seed, epoch, index, repeat and kind, and on nothing else", "[data][image]") {
  const auto first = [](SampleRng r) {
    std::vector<uint32_t> v;
    for (int i = 0; i < 8; ++i) v.push_back(r.next_u32());
    return v;
  };
  const std::vector<uint32_t> base = first(SampleRng(1, 2, 3, 0));
  CHECK(first(SampleRng(1, 2, 3, 0)) == base);
  std::set<std::vector<uint32_t>> distinct = {base,
                                              first(SampleRng(2, 2, 3, 0)),
                                              first(SampleRng(1, 3, 3, 0)),
                                              first(SampleRng(1, 2, 4, 0)),
                                              first(SampleRng(1, 2, 3, 1)),
                                              first(SampleRng(1, 2, 3, 0, RngStream::kBatch))};
  CHECK(distinct.size() == 6);
  CHECK_THROWS_AS(SampleRng(1, 2, uint64_t{1} << 32, 0), ff::Error);
  CHECK_THROWS_AS(SampleRng(1, uint64_t{1} << 32, 0, 0), ff::Error);
  CHECK_THROWS_AS(SampleRng(1, 0, 0, 1u << 24), ff::Error);
}

TEST_CASE("uniform, randint and normal draws", "[data][image]") {
  SampleRng rng(5, 0, 0);
  // uniform: 53 bits from two words, as (a >> 5) 2^26 + (b >> 6) over 2^53.
  SampleRng words = rng;
  const uint32_t a = words.next_u32(), b = words.next_u32();
  CHECK(rng.uniform() == ((a >> 5) * 67108864.0 + (b >> 6)) / 9007199254740992.0);
  // uniform(lo, hi) is Python's lo + (hi - lo) * u, rounded twice (volatile: no fused form).
  SampleRng scaled = rng, plain = rng;
  volatile double spread = (5.0 - 2.0) * plain.uniform();
  CHECK(scaled.uniform(2.0, 5.0) == 2.0 + spread);
  double s = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    s += u;
  }
  CHECK(s / n == Approx(0.5).margin(0.005));
  // randint is inclusive on both ends and uniform: 7 values, 70000 draws.
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) {
    const int64_t v = rng.randint(3, 9);
    REQUIRE(v >= 3);
    REQUIRE(v <= 9);
    ++counts[static_cast<size_t>(v - 3)];
  }
  double chi2 = 0;
  for (int c : counts) chi2 += (c - 10000.0) * (c - 10000.0) / 10000.0;
  CHECK(chi2 < 22.5);  // chi-square, 6 degrees of freedom, p = 0.001
  CHECK(rng.randint(4, 4) == 4);
  // normal and fill_normal: mean 0, variance 1.
  double m = 0, m2 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    m += z;
    m2 += z * z;
  }
  CHECK(m / n == Approx(0.0).margin(0.012));
  CHECK(m2 / n == Approx(1.0).margin(0.015));
  std::vector<float> fill(static_cast<size_t>(n));
  rng.fill_normal(fill.data(), n);
  double f = 0, f2 = 0;
  for (float z : fill) {
    f += z;
    f2 += static_cast<double>(z) * z;
  }
  CHECK(f / n == Approx(0.0).margin(0.012));
  CHECK(f2 / n == Approx(1.0).margin(0.015));
  // fill_normal is the fills' Box-Muller on whole blocks.
  SampleRng p(5, 1, 0);
  float four[4];
  p.fill_normal(four, 4);
  float expected[4];
  ff::kernels::philox::NormalTransform{0.0f, 1.0f}(
      philox::philox4x32_10({{0, 0, 1, 0x81000000u}}, 5u, 0u), expected);
  for (int i = 0; i < 4; ++i) CHECK(four[i] == expected[i]);
}
