#pragma once
// Philox 4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011) and the transforms from its 32-bit words to the distributions we sample. Every
// function is FF_HD: the CPU fills and the CUDA kernels call the same code, so a seed gives
// the same stream on both devices.
//
// Counter layout. A fill is addressed by a PhiloxState (seed, offset). Element e of the fill
// is lane e % 4 of the block
//     counter = (lo32(e / 4), hi32(e / 4), lo32(offset), hi32(offset)),  key = (lo32(seed), hi32(seed))
// so any element can be computed on its own (one CUDA thread or one OpenMP iteration per
// block of 4) and its value does not depend on how many elements the fill has. A fill uses
// only counters whose upper 64 bits equal its offset: the caller advances offset by one per
// fill call, whatever its length (up to 2^66 elements per fill).
//
// Bit-exactness across devices. The integer part (Philox itself), the uniform and Bernoulli
// transforms are exact: integer math, power-of-two scaling and fmaf (correctly rounded on
// both sides), so CUDA equals CPU bit for bit. Normal and truncated normal use logf, sinf,
// cosf, whose last bit may differ between glibc and CUDA's libdevice (about 1e-7 relative).

#include <cmath>
#include <cstdint>

#include "kernels/common.h"

namespace ff::kernels {

// Where a fill reads the Philox stream: the key and the upper 64 counter bits.
struct PhiloxState {
  uint64_t seed = 0;
  uint64_t offset = 0;
};

namespace philox {

struct Block {
  uint32_t v[4];
};

inline constexpr uint32_t kMul0 = 0xD2511F53u;
inline constexpr uint32_t kMul1 = 0xCD9E8D57u;
inline constexpr uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
inline constexpr uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

FF_HD void mul_hi_lo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  *lo = static_cast<uint32_t>(p);
}

// One Philox round: two 32x32->64 multiplies, the high halves xored with the other words
// and the key, the words permuted.
FF_HD Block philox_round(Block c, uint32_t k0, uint32_t k1) {
  uint32_t hi0, lo0, hi1, lo1;
  mul_hi_lo(kMul0, c.v[0], &hi0, &lo0);
  mul_hi_lo(kMul1, c.v[2], &hi1, &lo1);
  return Block{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
}

// Philox 4x32 with 10 rounds; the key is bumped by the Weyl constants between rounds.
FF_HD Block philox4x32_10(Block counter, uint32_t k0, uint32_t k1) {
  Block c = counter;
#if defined(__CUDACC__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    c = philox_round(c, k0, k1);
  }
  return c;
}

// The 4 words for elements 4*group .. 4*group+3 of the fill addressed by state.
FF_HD Block block_for(PhiloxState state, uint64_t group) {
  const Block counter{{static_cast<uint32_t>(group), static_cast<uint32_t>(group >> 32),
                       static_cast<uint32_t>(state.offset), static_cast<uint32_t>(state.offset >> 32)}};
  return philox4x32_10(counter, static_cast<uint32_t>(state.seed), static_cast<uint32_t>(state.seed >> 32));
}

inline constexpr float kTwoPow24Inv = 1.0f / 16777216.0f;  // 2^-24

// [0, 1): the top 24 bits, k * 2^-24 (exact in float).
FF_HD float uniform_closed_open(uint32_t x) { return static_cast<float>(x >> 8) * kTwoPow24Inv; }

// (0, 1): odd multiples of 2^-24 from 2^-24 to 1 - 2^-24, symmetric about 1/2; never 0 or 1,
// so log() and erfinv() of it are finite.
FF_HD float uniform_open(uint32_t x) { return static_cast<float>((x >> 8) | 1u) * kTwoPow24Inv; }

FF_HD float fma_f(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// erf^-1(x) for x in (-1, 1); +-inf at +-1. M. Giles, "Approximating the erfinv function"
// (GPU Computing Gems Jade, 2011), single-precision branch-light version: a degree-8
// polynomial in w = -log(1 - x^2) - 2.5 for the centre (w < 5) and one in sqrt(w) - 3 for
// the tails. Relative error a few float ulp. Horner with explicit fma so the CPU and CUDA
// evaluate the same operations.
FF_HD float erfinv(float x) {
  if (!(std::fabs(x) < 1.0f)) return x * INFINITY;  // +-1 -> +-inf, NaN stays NaN
  float w = -std::log((1.0f - x) * (1.0f + x));
  float p;
  if (w < 5.0f) {
    w = w - 2.5f;
    p = 2.81022636e-08f;
    p = fma_f(p, w, 3.43273939e-07f);
    p = fma_f(p, w, -3.5233877e-06f);
    p = fma_f(p, w, -4.39150654e-06f);
    p = fma_f(p, w, 0.00021858087f);
    p = fma_f(p, w, -0.00125372503f);
    p = fma_f(p, w, -0.00417768164f);
    p = fma_f(p, w, 0.246640727f);
    p = fma_f(p, w, 1.50140941f);
  } else {
    w = std::sqrt(w) - 3.0f;
    p = -0.000200214257f;
    p = fma_f(p, w, 0.000100950558f);
    p = fma_f(p, w, 0.00134934322f);
    p = fma_f(p, w, -0.00367342844f);
    p = fma_f(p, w, 0.00573950773f);
    p = fma_f(p, w, -0.0076224613f);
    p = fma_f(p, w, 0.00943887047f);
    p = fma_f(p, w, 1.00167406f);
    p = fma_f(p, w, 2.83297682f);
  }
  return p * x;
}

// ---- transforms: the 4 words of a block -> 4 values. Parameters are prepared on the host
// (see the make functions) so both devices start from the same floats.

// lo + (hi - lo) * u, u in [0, 1).
struct UniformTransform {
  float lo;
  float width;
  FF_HD void operator()(const Block& r, float out[4]) const {
    for (int i = 0; i < 4; ++i) out[i] = fma_f(uniform_closed_open(r.v[i]), width, lo);
  }
};

// Box-Muller on the pairs (v0, v1) and (v2, v3): radius from the open uniform (log finite),
// angle from the half-open one; even lanes take the cosine, odd lanes the sine.
struct NormalTransform {
  float mean;
  float stddev;
  FF_HD void operator()(const Block& r, float out[4]) const {
    constexpr float kTwoPi = 6.28318530717958647692f;
    for (int pair = 0; pair < 2; ++pair) {
      const float radius = std::sqrt(-2.0f * std::log(uniform_open(r.v[2 * pair])));
      const float angle = kTwoPi * uniform_closed_open(r.v[2 * pair + 1]);
      out[2 * pair] = fma_f(stddev, radius * std::cos(angle), mean);
      out[2 * pair + 1] = fma_f(stddev, radius * std::sin(angle), mean);
    }
  }
};

// Inverse-CDF sampling of N(mean, std^2) restricted to [a, b] (absolute bounds, as timm's
// trunc_normal_): with t = erf((bound - mean) / (std sqrt 2)), draw y uniform in (t_a, t_b),
// x = mean + std sqrt(2) erfinv(y), clamped to [a, b] against rounding at the ends.
struct TruncatedNormalTransform {
  float mean;
  float std_sqrt2;
  float t_lo;     // erf((a - mean) / (std sqrt 2))
  float t_width;  // erf((b - mean) / (std sqrt 2)) - t_lo
  float a;
  float b;
  FF_HD void operator()(const Block& r, float out[4]) const {
    for (int i = 0; i < 4; ++i) {
      const float y = fma_f(uniform_open(r.v[i]), t_width, t_lo);
      const float x = fma_f(std_sqrt2, erfinv(y), mean);
      out[i] = std::fmin(std::fmax(x, a), b);  // fmax/fmin also map a -inf/+inf to a/b
    }
  }
};

// Keep with probability p_keep: u < p_keep with u in [0, 1) (p_keep = 1 always keeps,
// p_keep = 0 never does). Writes keep_value or 0.
struct BernoulliTransform {
  float p_keep;
  float keep_value;
  FF_HD void operator()(const Block& r, float out[4]) const {
    for (int i = 0; i < 4; ++i) out[i] = uniform_closed_open(r.v[i]) < p_keep ? keep_value : 0.0f;
  }
};

// Host-side parameter preparation, shared by both backends so they start from the same floats.
inline UniformTransform make_uniform(float lo, float hi) {
  FF_CHECK(lo <= hi && std::isfinite(hi - lo), "uniform: need finite lo <= hi, got [{}, {})", lo, hi);
  return UniformTransform{lo, hi - lo};
}

inline NormalTransform make_normal(float mean, float stddev) {
  FF_CHECK(stddev >= 0.0f && std::isfinite(stddev) && std::isfinite(mean),
           "normal: need finite mean and std >= 0, got mean {} std {}", mean, stddev);
  return NormalTransform{mean, stddev};
}

inline TruncatedNormalTransform make_truncated_normal(float mean, float stddev, float a, float b) {
  FF_CHECK(stddev > 0.0f && std::isfinite(stddev) && std::isfinite(mean),
           "truncated normal: need finite mean and std > 0, got mean {} std {}", mean, stddev);
  FF_CHECK(a < b, "truncated normal: need bounds a < b, got [{}, {}]", a, b);
  const double scale = 1.0 / (static_cast<double>(stddev) * 1.4142135623730950488);
  const double t_a = std::erf((static_cast<double>(a) - mean) * scale);
  const double t_b = std::erf((static_cast<double>(b) - mean) * scale);
  // Both bounds far in one tail: the interval has no probability mass that float can
  // resolve, so the inverse CDF degenerates; refuse rather than return a constant.
  FF_CHECK(t_b > t_a, "truncated normal: [{}, {}] is too far in the tail of N({}, {}^2)", a, b, mean, stddev);
  return TruncatedNormalTransform{mean, static_cast<float>(stddev * 1.4142135623730950488),
                                  static_cast<float>(t_a), static_cast<float>(t_b - t_a), a, b};
}

inline BernoulliTransform make_bernoulli(float p_keep, float keep_value) {
  FF_CHECK(p_keep >= 0.0f && p_keep <= 1.0f, "bernoulli: keep probability must be in [0, 1], got {}", p_keep);
  return BernoulliTransform{p_keep, keep_value};
}

}  // namespace philox
}  // namespace ff::kernels
