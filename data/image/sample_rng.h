#pragma once
// Per-sample random numbers for the data pipeline. A SampleRng is a sequential reader of one
// Philox 4x32-10 stream addressed by (seed, stream kind, epoch, index, repeat), so the
// augmentation of a sample depends on those five numbers only: not on the thread that
// transforms it, on the order samples are processed, or on how many ranks there are.
//
// Counter layout (docs/rng.md, "Per-sample streams"):
//     key     = (lo32(seed), hi32(seed))
//     counter = (block, lo32(index), epoch, 0x80000000 | kind << 24 | repeat)
// `block` counts the 4-word blocks read so far. Bit 31 of the last word is always 1 here;
// ff::Generator (core/random/generator.h) puts hi32(offset) there, which keeps bit 31 at 0 for
// the first 2^63 random ops of a run, so the two families of streams never share a counter
// even under the same seed.

#include <cstdint>

#include "kernels/common.h"
#include "kernels/philox.h"

namespace ff::data {

// Which part of the pipeline a stream belongs to; distinct kinds never share a counter.
enum class RngStream : uint32_t {
  kSample = 1,   // the per-sample train transform (crop, flip, RandAugment, erasing)
  kBatch = 2,    // per-batch mixing (mixup / cutmix); index = batch number in the epoch
  kShuffle = 3,  // a sampler's epoch permutation; index = 0
};

class SampleRng {
 public:
  static constexpr uint64_t kMaxIndex = (uint64_t{1} << 32) - 1;
  static constexpr uint64_t kMaxEpoch = (uint64_t{1} << 32) - 1;
  static constexpr uint32_t kMaxRepeat = (uint32_t{1} << 24) - 1;

  SampleRng(uint64_t seed, uint64_t epoch, uint64_t index, uint32_t repeat = 0, RngStream kind = RngStream::kSample)
      : key0_(static_cast<uint32_t>(seed)), key1_(static_cast<uint32_t>(seed >> 32)) {
    FF_CHECK(index <= kMaxIndex, "SampleRng: index {} does not fit in 32 bits", index);
    FF_CHECK(epoch <= kMaxEpoch, "SampleRng: epoch {} does not fit in 32 bits", epoch);
    FF_CHECK(repeat <= kMaxRepeat, "SampleRng: repeat {} does not fit in 24 bits", repeat);
    c1_ = static_cast<uint32_t>(index);
    c2_ = static_cast<uint32_t>(epoch);
    c3_ = 0x80000000u | (static_cast<uint32_t>(kind) << 24) | repeat;
  }

  uint32_t next_u32() {
    if (lane_ == 4) refill();
    return words_.v[lane_++];
  }
  uint64_t next_u64() {
    const uint64_t hi = next_u32();
    return (hi << 32) | next_u32();
  }

  // [0, 1) with 53 random bits, as Python's random.random().
  double uniform() {
    const uint32_t a = next_u32() >> 5;  // 27 bits
    const uint32_t b = next_u32() >> 6;  // 26 bits
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
  }
  // lo + (hi - lo) * u, as Python's random.uniform(lo, hi). The floating-point draws are
  // defined in sample_rng.cpp, built without fused multiply-adds like the transforms, so every
  // caller gets the same bits.
  double uniform(double lo, double hi);

  // A uniform integer in [lo, hi] (both included, as Python's random.randint): Lemire's
  // multiply-and-reject, so every value has exactly the same probability.
  int64_t randint(int64_t lo, int64_t hi) {
    FF_CHECK(lo <= hi, "randint: empty range [{}, {}]", lo, hi);
    const uint64_t n = static_cast<uint64_t>(hi - lo) + 1;  // 0 means the full 2^64 range
    if (n == 0) return static_cast<int64_t>(next_u64());
    unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * n;
    if (static_cast<uint64_t>(m) < n) {
      const uint64_t threshold = (0 - n) % n;
      while (static_cast<uint64_t>(m) < threshold) m = static_cast<unsigned __int128>(next_u64()) * n;
    }
    return lo + static_cast<int64_t>(m >> 64);
  }
  // [0, n): numpy's randint(n) / Python's randrange(n).
  int64_t below(int64_t n) { return randint(0, n - 1); }

  // Standard normal by Box-Muller from two fresh uniforms (the second value is not kept, so
  // each call reads exactly four words).
  double normal();
  double normal(double mean, double stddev);

  // n standard normal floats, four per block by the Box-Muller transform of the fills
  // (kernels/philox.h), for bulk noise such as random erasing's per-pixel values. Takes whole
  // blocks: the next scalar draw starts a fresh one.
  void fill_normal(float* out, int64_t n);

  // Blocks read so far (the first word of the next counter).
  uint32_t blocks_read() const { return block_; }

 private:
  kernels::philox::Block next_block() {
    lane_ = 4;  // a whole block is taken: the next scalar draw starts a fresh one
    const kernels::philox::Block counter{{block_++, c1_, c2_, c3_}};
    return kernels::philox::philox4x32_10(counter, key0_, key1_);
  }
  void refill() {
    words_ = next_block();
    lane_ = 0;
  }

  uint32_t key0_, key1_;
  uint32_t c1_ = 0, c2_ = 0, c3_ = 0;
  uint32_t block_ = 0;
  kernels::philox::Block words_{};
  int lane_ = 4;
};

// Gamma(alpha, 1) and Beta(alpha, beta) variates (alpha, beta > 0).
// Marsaglia and Tsang, "A simple method for generating gamma variables" (ACM TOMS 2000): for
// alpha >= 1 a rejection sampler on a transformed normal; for alpha < 1 the boost
// Gamma(alpha) = Gamma(alpha + 1) * U^(1 / alpha). log_gamma returns the logarithm so that
// small alphas cannot underflow to 0 and Beta never divides 0 by 0.
double log_gamma_variate(SampleRng& rng, double alpha);
double gamma_variate(SampleRng& rng, double alpha);
// X / (X + Y) with X ~ Gamma(alpha), Y ~ Gamma(beta), computed as 1 / (1 + exp(log Y - log X)).
double beta_variate(SampleRng& rng, double alpha, double beta);

}  // namespace ff::data
