// Philox 4x32-10 and the random fills: known answers, statistics, determinism, CPU == CUDA.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "kernels/philox.h"
#include "kernels/random.h"
#include "support/skip.h"

#ifdef FF_WITH_CUDA
#include <cuda_runtime.h>
#endif

using ff::kernels::PhiloxState;
namespace cpu = ff::kernels::cpu;
namespace philox = ff::kernels::philox;

namespace {

struct Moments {
  double mean;
  double std;
};

template <typename T>
Moments moments(const std::vector<T>& v) {
  double sum = 0, sum_sq = 0;
  for (T x : v) sum += x;
  const double mean = sum / v.size();
  for (T x : v) sum_sq += (x - mean) * (x - mean);
  return {mean, std::sqrt(sum_sq / v.size())};
}

double normal_pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI); }
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

// Random123's tests/kat_vectors, the three "philox4x32 10" lines (counter, key, expected).
TEST_CASE("philox4x32-10 matches the Random123 known-answer vectors", "[random]") {
  struct Kat {
    philox::Block counter;
    uint32_t k0, k1;
    philox::Block expected;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       0xffffffff, 0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       0xa4093822, 0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Kat& kat : kats) {
    const philox::Block got = philox::philox4x32_10(kat.counter, kat.k0, kat.k1);
    for (int i = 0; i < 4; ++i) CHECK(got.v[i] == kat.expected.v[i]);
  }
}

TEST_CASE("fills follow the documented counter layout", "[random]") {
  const PhiloxState state{0x0123456789abcdefull, 0xfedcba9876543210ull};
  // 11: blocks one at a time; 4 * 8 * 3 + 7: three runs of 8 blocks in vector lanes and a tail.
  for (size_t n : {11, 103}) {
    std::vector<float> got(n);
    cpu::uniform(cpu::Exec{}, got.data(), got.size(), 0.0f, 1.0f, state);
    int wrong = 0;
    for (uint64_t e = 0; e < got.size(); ++e) {
      const philox::Block counter{{static_cast<uint32_t>(e / 4), 0u, 0x76543210u, 0xfedcba98u}};
      const philox::Block r = philox::philox4x32_10(counter, 0x89abcdefu, 0x01234567u);
      wrong += got[e] != static_cast<float>(r.v[e % 4] >> 8) / 16777216.0f;
    }
    INFO("n " << n);
    CHECK(wrong == 0);
  }
}

TEST_CASE("uniform transforms stay inside their intervals", "[random]") {
  CHECK(philox::uniform_closed_open(0u) == 0.0f);
  CHECK(philox::uniform_closed_open(0xffffffffu) == 1.0f - 0x1p-24f);
  CHECK(philox::uniform_open(0u) == 0x1p-24f);
  CHECK(philox::uniform_open(0xffffffffu) == 1.0f - 0x1p-24f);
  CHECK(philox::uniform_open(0x80000000u) == 0.5f + 0x1p-24f);
}

TEST_CASE("erfinv inverts erf to float accuracy", "[random]") {
  CHECK(philox::erfinv(0.0f) == 0.0f);
  CHECK(std::isinf(philox::erfinv(1.0f)));
  CHECK(philox::erfinv(1.0f) > 0);
  CHECK(philox::erfinv(-1.0f) < 0);
  double worst = 0;
  for (int i = -99999; i <= 99999; ++i) {
    const float y = static_cast<float>(i) / 100000.0f;
    const double x = philox::erfinv(y);
    // Compare in the x domain: erf'(x) = 2/sqrt(pi) exp(-x^2).
    const double dx = (std::erf(x) - y) / (2 / std::sqrt(M_PI) * std::exp(-x * x));
    worst = std::max(worst, std::abs(dx) / std::max(std::abs(x), 1e-30));
  }
  // The tail end: y = 1 - 2^-24 is the largest float below 1.
  for (float y : {0.999f, 0.99999f, 1.0f - 0x1p-24f, -(1.0f - 0x1p-24f)}) {
    const double x = philox::erfinv(y);
    const double dx = std::erfc(std::abs(x)) - (1.0 - std::abs(static_cast<double>(y)));
    CHECK(std::abs(dx) / (1.0 - std::abs(static_cast<double>(y))) < 1e-4);
  }
  // Centre: relative error in x of a few float ulp (plus the rounding of y itself).
  CHECK(worst < 2e-6);
}

TEST_CASE("uniform fill covers [lo, hi) with the right moments", "[random]") {
  std::vector<float> v(1 << 20);
  cpu::uniform(cpu::Exec{}, v.data(), v.size(), -3.0f, 5.0f, {42, 7});
  CHECK(*std::min_element(v.begin(), v.end()) >= -3.0f);
  CHECK(*std::max_element(v.begin(), v.end()) < 5.0f);
  const Moments m = moments(v);
  CHECK(m.mean == Approx(1.0).margin(0.01));           // 4 standard errors: 8/sqrt(12)/1024
  CHECK(m.std == Approx(8.0 / std::sqrt(12.0)).epsilon(0.002));
}

TEST_CASE("normal fill has the right mean, std and tails", "[random]") {
  const int64_t n = 1 << 20;
  std::vector<float> v(n);
  cpu::normal(cpu::Exec{}, v.data(), n, 0.5f, 2.0f, {1234, 0});
  const Moments m = moments(v);
  CHECK(m.mean == Approx(0.5).margin(0.008));  // standard error 2/1024 ~ 0.002
  CHECK(m.std == Approx(2.0).epsilon(0.003));  // relative standard error 1/sqrt(2n) ~ 0.0007
  // Fraction beyond 2 sigma: 4.55%; within 0.1% absolute (standard error 0.02%).
  const auto beyond = std::count_if(v.begin(), v.end(), [](float x) { return std::abs(x - 0.5f) > 4.0f; });
  CHECK(static_cast<double>(beyond) / n == Approx(2 * normal_cdf(-2.0)).margin(0.001));
  // Even (cosine) and odd (sine) lanes are both standard normal and uncorrelated.
  double even_sq = 0, odd_sq = 0, cross = 0;
  for (int64_t i = 0; i < n; i += 2) {
    even_sq += (v[i] - 0.5) * (v[i] - 0.5);
    odd_sq += (v[i + 1] - 0.5) * (v[i + 1] - 0.5);
    cross += (v[i] - 0.5) * (v[i + 1] - 0.5);
  }
  CHECK(std::sqrt(even_sq / (n / 2)) == Approx(2.0).epsilon(0.005));
  CHECK(std::sqrt(odd_sq / (n / 2)) == Approx(2.0).epsilon(0.005));
  CHECK(cross / std::sqrt(even_sq * odd_sq) == Approx(0.0).margin(0.006));
}

TEST_CASE("truncated normal stays in [a, b] with the truncated moments", "[random]") {
  const int64_t n = 1 << 20;
  SECTION("standard normal on [-1, 2]") {
    std::vector<float> v(n);
    cpu::truncated_normal(cpu::Exec{}, v.data(), n, 0.0f, 1.0f, -1.0f, 2.0f, {99, 3});
    CHECK(*std::min_element(v.begin(), v.end()) >= -1.0f);
    CHECK(*std::max_element(v.begin(), v.end()) <= 2.0f);
    const double alpha = -1, beta = 2;
    const double z = normal_cdf(beta) - normal_cdf(alpha);
    const double mean = (normal_pdf(alpha) - normal_pdf(beta)) / z;
    const double var = 1 + (alpha * normal_pdf(alpha) - beta * normal_pdf(beta)) / z - mean * mean;
    const Moments m = moments(v);
    CHECK(m.mean == Approx(mean).margin(0.003));
    CHECK(m.std == Approx(std::sqrt(var)).epsilon(0.003));
  }
  SECTION("timm's trunc_normal_(std=0.02, a=-2, b=2) with absolute bounds") {
    std::vector<double> v(n);
    cpu::truncated_normal(cpu::Exec{}, v.data(), n, 0.0f, 0.02f, -2.0f, 2.0f, {5, 0});
    const Moments m = moments(v);
    CHECK(m.mean == Approx(0.0).margin(1e-4));
    CHECK(m.std == Approx(0.02).epsilon(0.003));
    CHECK(*std::max_element(v.begin(), v.end()) < 0.2);  // 10 sigma: bounds never reached
  }
  SECTION("shifted mean, one-sided window") {
    std::vector<float> v(n);
    cpu::truncated_normal(cpu::Exec{}, v.data(), n, 3.0f, 0.5f, 3.25f, 3.5f, {11, 1});
    CHECK(*std::min_element(v.begin(), v.end()) >= 3.25f);
    CHECK(*std::max_element(v.begin(), v.end()) <= 3.5f);
    const double alpha = 0.5, beta = 1.0;
    const double z = normal_cdf(beta) - normal_cdf(alpha);
    const double mean = 3.0 + 0.5 * (normal_pdf(alpha) - normal_pdf(beta)) / z;
    CHECK(moments(v).mean == Approx(mean).margin(0.001));
  }
  SECTION("bad parameters are refused") {
    std::vector<float> v(4);
    CHECK_THROWS_AS(cpu::truncated_normal(cpu::Exec{}, v.data(), 4, 0.0f, 1.0f, 2.0f, -2.0f, {}), ff::Error);
    CHECK_THROWS_AS(cpu::truncated_normal(cpu::Exec{}, v.data(), 4, 0.0f, 0.0f, -2.0f, 2.0f, {}), ff::Error);
  }
}

TEST_CASE("bernoulli and dropout masks keep with probability p", "[random]") {
  const int64_t n = 1 << 20;
  for (float p : {0.1f, 0.5f, 0.9f}) {
    std::vector<uint8_t> mask(n);
    cpu::bernoulli_mask(cpu::Exec{}, mask.data(), n, p, {7, 8});
    const double rate = std::accumulate(mask.begin(), mask.end(), 0.0) / n;
    CHECK(rate == Approx(p).margin(0.002));  // standard error <= 0.0005
    CHECK(std::all_of(mask.begin(), mask.end(), [](uint8_t m) { return m <= 1; }));

    std::vector<float> scaled(n);
    cpu::dropout_mask(cpu::Exec{}, scaled.data(), n, p, {7, 8});
    for (int64_t i = 0; i < n; ++i) {
      if (scaled[i] != (mask[i] ? 1.0f / p : 0.0f)) {
        FAIL("dropout mask differs from the bernoulli mask at " << i);
      }
    }
  }
  std::vector<uint8_t> mask(1000);
  cpu::bernoulli_mask(cpu::Exec{}, mask.data(), mask.size(), 1.0f, {1, 1});
  CHECK(std::all_of(mask.begin(), mask.end(), [](uint8_t m) { return m == 1; }));
  cpu::bernoulli_mask(cpu::Exec{}, mask.data(), mask.size(), 0.0f, {1, 1});
  CHECK(std::all_of(mask.begin(), mask.end(), [](uint8_t m) { return m == 0; }));
  std::vector<float> scaled(1000);
  cpu::dropout_mask(cpu::Exec{}, scaled.data(), scaled.size(), 0.0f, {1, 1});
  CHECK(std::all_of(scaled.begin(), scaled.end(), [](float m) { return m == 0.0f; }));
  CHECK_THROWS_AS(cpu::bernoulli_mask(cpu::Exec{}, mask.data(), 10, 1.5f, {}), ff::Error);
}

TEST_CASE("fills are deterministic and independent of their length", "[random]") {
  const PhiloxState state{2024, 17};
  std::vector<float> short_fill(10), long_fill(1000), again(1000);
  // Lengths around the OpenMP threshold and not multiples of 4.
  std::vector<float> huge(100003);
  cpu::normal(cpu::Exec{}, short_fill.data(), 10, 0.0f, 1.0f, state);
  cpu::normal(cpu::Exec{}, long_fill.data(), 1000, 0.0f, 1.0f, state);
  cpu::normal(cpu::Exec{}, again.data(), 1000, 0.0f, 1.0f, state);
  cpu::normal(cpu::Exec{}, huge.data(), huge.size(), 0.0f, 1.0f, state);
  CHECK(long_fill == again);
  CHECK(std::equal(short_fill.begin(), short_fill.end(), long_fill.begin()));
  CHECK(std::equal(long_fill.begin(), long_fill.end(), huge.begin()));

  // Another offset, or only the high word of the seed changed: a different stream.
  std::vector<float> next_offset(1000), other_seed(1000);
  cpu::normal(cpu::Exec{}, next_offset.data(), 1000, 0.0f, 1.0f, {2024, 18});
  cpu::normal(cpu::Exec{}, other_seed.data(), 1000, 0.0f, 1.0f, {2024 + (1ull << 32), 17});
  int same_offset = 0, same_seed = 0;
  for (int i = 0; i < 1000; ++i) {
    same_offset += next_offset[i] == long_fill[i];
    same_seed += other_seed[i] == long_fill[i];
  }
  CHECK(same_offset == 0);
  CHECK(same_seed == 0);

  // double outputs hold the float stream widened.
  std::vector<double> wide(1000);
  cpu::normal(cpu::Exec{}, wide.data(), 1000, 0.0f, 1.0f, state);
  for (int i = 0; i < 1000; ++i) CHECK(wide[i] == static_cast<double>(long_fill[i]));
}

#ifdef FF_WITH_CUDA
namespace {

template <typename T>
std::vector<T> from_device(const T* device, int64_t n) {
  std::vector<T> host(n);
  REQUIRE(cudaMemcpy(host.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
  return host;
}

}  // namespace
#endif

TEST_CASE("CUDA fills equal the CPU fills", "[random][cuda]") {
  FF_REQUIRE_CUDA();
#ifdef FF_WITH_CUDA
  namespace gpu = ff::kernels::cuda;
  const int64_t n = (1 << 20) + 3;  // a partial last block
  const PhiloxState state{0xdeadbeefcafef00dull, 0x100000001ull};
  float* d_out = nullptr;
  uint8_t* d_mask = nullptr;
  REQUIRE(cudaMalloc(&d_out, n * sizeof(float)) == cudaSuccess);
  REQUIRE(cudaMalloc(&d_mask, n) == cudaSuccess);
  std::vector<float> want(n);

  gpu::uniform(gpu::Exec{}, d_out, n, -1.0f, 3.0f, state);
  cpu::uniform(cpu::Exec{}, want.data(), n, -1.0f, 3.0f, state);
  CHECK(from_device(d_out, n) == want);

  // Unaligned output: the kernel falls back from vector stores to scalar ones.
  gpu::uniform(gpu::Exec{}, d_out + 1, n - 1, -1.0f, 3.0f, state);
  cpu::uniform(cpu::Exec{}, want.data() + 1, n - 1, -1.0f, 3.0f, state);
  want[0] = from_device(d_out, 1)[0];  // element 0 is left from the previous fill
  CHECK(from_device(d_out, n) == want);

  gpu::dropout_mask(gpu::Exec{}, d_out, n, 0.7f, state);
  cpu::dropout_mask(cpu::Exec{}, want.data(), n, 0.7f, state);
  CHECK(from_device(d_out, n) == want);

  std::vector<uint8_t> want_mask(n);
  gpu::bernoulli_mask(gpu::Exec{}, d_mask, n, 0.3f, state);
  cpu::bernoulli_mask(cpu::Exec{}, want_mask.data(), n, 0.3f, state);
  CHECK(from_device(d_mask, n) == want_mask);

  auto max_abs_diff = [](const std::vector<float>& a, const std::vector<float>& b) {
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
    return worst;
  };
  gpu::normal(gpu::Exec{}, d_out, n, 0.0f, 1.0f, state);
  cpu::normal(cpu::Exec{}, want.data(), n, 0.0f, 1.0f, state);
  CHECK(max_abs_diff(from_device(d_out, n), want) < 5e-6);  // |z| <= 5.7, a few float ulp

  gpu::truncated_normal(gpu::Exec{}, d_out, n, 0.0f, 1.0f, -2.0f, 2.0f, state);
  cpu::truncated_normal(cpu::Exec{}, want.data(), n, 0.0f, 1.0f, -2.0f, 2.0f, state);
  CHECK(max_abs_diff(from_device(d_out, n), want) < 2e-6);

  CHECK(cudaFree(d_out) == cudaSuccess);
  CHECK(cudaFree(d_mask) == cudaSuccess);
#endif
}
