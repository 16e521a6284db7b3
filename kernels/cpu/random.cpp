// CPU random fills: OpenMP over runs of blocks of 4 elements, the Philox words of a run computed
// in vector lanes, each block one transform from kernels/philox.h (the same values the CUDA
// kernels compute).

#include "kernels/random.h"

#include <algorithm>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace ff::kernels::cpu {

namespace {

// Philox 4x32-10 of the groups g0 .. g0 + kLanes - 1 at once, word-major (w[word][lane]): the
// same arithmetic as philox::philox4x32_10 with each word of 8 groups in one AVX2 register
// (a 32x32->64 multiply of the even and of the odd lanes per product), where one group at a
// time is a chain of scalar multiplies. Without AVX2, the groups one by one.
constexpr int kLanes = 8;
void philox_lanes(PhiloxState state, uint64_t g0, uint32_t w[4][kLanes]) {
  uint32_t k0 = static_cast<uint32_t>(state.seed), k1 = static_cast<uint32_t>(state.seed >> 32);
#if defined(__AVX2__)
  alignas(32) uint32_t lo[kLanes], hi[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    lo[l] = static_cast<uint32_t>(g0 + l);
    hi[l] = static_cast<uint32_t>((g0 + l) >> 32);
  }
  __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo));
  __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi));
  __m256i c2 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(state.offset)));
  __m256i c3 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(state.offset >> 32)));
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(philox::kMul0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(philox::kMul1));
  // (hi, lo) 32-bit halves of m * c in every lane.
  auto mul_hi_lo = [](__m256i m, __m256i c, __m256i& hi_out, __m256i& lo_out) {
    const __m256i even = _mm256_mul_epu32(m, c);                                          // lanes 0, 2, ...
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(m, 32), _mm256_srli_epi64(c, 32));  // lanes 1, 3, ...
    hi_out = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    lo_out = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  };
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += philox::kWeyl0;
      k1 += philox::kWeyl1;
    }
    __m256i hi0, lo0, hi1, lo1;
    mul_hi_lo(m0, c0, hi0, lo0);
    mul_hi_lo(m1, c2, hi1, lo1);
    c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
    c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
    c1 = lo1;
    c3 = lo0;
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(w[0]), c0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(w[1]), c1);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(w[2]), c2);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(w[3]), c3);
#else
  for (int l = 0; l < kLanes; ++l) {
    const philox::Block b = philox::block_for(state, g0 + l);
    for (int i = 0; i < 4; ++i) w[i][l] = b.v[i];
  }
  (void)k0;
  (void)k1;
#endif
}

// out: (n,). Block g writes elements 4g .. min(4g + 4, n) - 1: whole runs of kLanes blocks
// through philox_lanes, the rest one block at a time (the same values either way).
template <typename T, typename Transform>
void fill(T* out, int64_t n, const Transform& transform, PhiloxState state) {
  FF_CHECK(n >= 0, "random fill: negative length {}", n);
  if (n == 0) return;
  FF_CHECK(out != nullptr, "random fill: null output for {} elements", n);
  const int64_t blocks = (n + 3) / 4;
  const int64_t runs = (n / 4) / kLanes;  // runs of kLanes whole blocks
#pragma omp parallel for schedule(static) if (runs > 256)
  for (int64_t r = 0; r < runs; ++r) {
    uint32_t w[4][kLanes];
    philox_lanes(state, static_cast<uint64_t>(r * kLanes), w);
    T* o = out + r * kLanes * 4;
    for (int l = 0; l < kLanes; ++l) {
      float values[4];
      transform(philox::Block{{w[0][l], w[1][l], w[2][l], w[3][l]}}, values);
      for (int i = 0; i < 4; ++i) o[4 * l + i] = static_cast<T>(values[i]);
    }
  }
  for (int64_t g = runs * kLanes; g < blocks; ++g) {
    float values[4];
    transform(philox::block_for(state, static_cast<uint64_t>(g)), values);
    const int64_t begin = 4 * g;
    const int count = static_cast<int>(std::min<int64_t>(4, n - begin));
    for (int i = 0; i < count; ++i) out[begin + i] = static_cast<T>(values[i]);
  }
}

}  // namespace

template <typename T>
void uniform(Exec, T* out, int64_t n, float lo, float hi, PhiloxState state) {
  fill(out, n, philox::make_uniform(lo, hi), state);
}

template <typename T>
void normal(Exec, T* out, int64_t n, float mean, float std, PhiloxState state) {
  fill(out, n, philox::make_normal(mean, std), state);
}

template <typename T>
void truncated_normal(Exec, T* out, int64_t n, float mean, float std, float a, float b, PhiloxState state) {
  fill(out, n, philox::make_truncated_normal(mean, std, a, b), state);
}

void bernoulli_mask(Exec, uint8_t* mask, int64_t n, float p_keep, PhiloxState state) {
  fill(mask, n, philox::make_bernoulli(p_keep, 1.0f), state);
}

template <typename T>
void dropout_mask(Exec, T* mask, int64_t n, float p_keep, PhiloxState state) {
  fill(mask, n, philox::make_bernoulli(p_keep, p_keep > 0.0f ? 1.0f / p_keep : 0.0f), state);
}

#define FF_INSTANTIATE(T)                                                                               \
  template void uniform<T>(Exec, T*, int64_t, float, float, PhiloxState);                               \
  template void normal<T>(Exec, T*, int64_t, float, float, PhiloxState);                                \
  template void truncated_normal<T>(Exec, T*, int64_t, float, float, float, float, PhiloxState);        \
  template void dropout_mask<T>(Exec, T*, int64_t, float, PhiloxState);
FF_INSTANTIATE(float)
FF_INSTANTIATE(double)
#undef FF_INSTANTIATE

}  // namespace ff::kernels::cpu
