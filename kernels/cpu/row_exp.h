#pragma once
// Vectorised exponentials over one float row, for the CPU softmax and cross-entropy kernels:
// the row's max and sum of exp(x - max) (log-sum-exp), and y = a exp(x - shift) + b. The
// exponentials are attention_math.h's polynomial (a few ulp), computed in chunks of kChunk in
// float lanes; the chunk sums are added in double, so a row of C terms loses about
// log2(kChunk / lanes) bits, not log2(C). A row with a NaN or an infinite max (all -inf, or a
// +inf) reports `finite` false: the caller then takes its exact double path, which gives
// those rows their IEEE answers.
//
// Compile the including file with -fno-trapping-math (kernels/CMakeLists.txt): otherwise GCC
// keeps the polynomial's loop scalar.

#include <cmath>
#include <cstdint>

#include "kernels/attention_math.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace ff::kernels::cpu::row_exp {

inline constexpr int64_t kChunk = 256;

struct LogSumExp {
  float max = -INFINITY;
  double sum = 0;      // sum_j exp(x_j - max)
  double sum_x = 0;    // sum_j x_j, when asked for
  bool finite = false;
  double value() const { return double(max) + std::log(sum); }
};

namespace detail {
// Sum of n floats (n <= kChunk), in 8 float lanes where AVX2 is there.
inline double sum_floats(const float* p, int64_t n) {
  int64_t j = 0;
  double total = 0;
#if defined(__AVX2__) && defined(__FMA__)
  __m256 acc = _mm256_setzero_ps();
  for (; j + 8 <= n; j += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(p + j));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  for (float l : lanes) total += double(l);
#endif
  for (; j < n; ++j) total += double(p[j]);
  return total;
}

// Max of the row and whether any entry is NaN.
inline float row_max(const float* x, int64_t C, bool& has_nan) {
  int64_t j = 0;
  float m = -INFINITY;
  has_nan = false;
#if defined(__AVX2__) && defined(__FMA__)
  __m256 vm = _mm256_set1_ps(-INFINITY), unordered = _mm256_setzero_ps();
  for (; j + 8 <= C; j += 8) {
    const __m256 v = _mm256_loadu_ps(x + j);
    vm = _mm256_max_ps(vm, v);
    unordered = _mm256_or_ps(unordered, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vm);
  for (float l : lanes) m = l > m ? l : m;
  has_nan = _mm256_movemask_ps(unordered) != 0;
#endif
  for (; j < C; ++j) {
    has_nan = has_nan || std::isnan(x[j]);
    m = x[j] > m ? x[j] : m;
  }
  return m;
}
}  // namespace detail

// log sum_j exp(x_j) of one row of C floats, and sum_j x_j when `with_sum_x`.
inline LogSumExp log_sum_exp(const float* x, int64_t C, bool with_sum_x) {
  LogSumExp r;
  bool has_nan = false;
  r.max = detail::row_max(x, C, has_nan);
  if (has_nan || !std::isfinite(r.max)) return r;
  float buf[kChunk];
  for (int64_t j0 = 0; j0 < C; j0 += kChunk) {
    const int64_t n = C - j0 < kChunk ? C - j0 : kChunk;
    const float* xc = x + j0;
    for (int64_t j = 0; j < n; ++j) buf[j] = attention_math::poly_exp(xc[j] - r.max);
    r.sum += detail::sum_floats(buf, n);
    if (with_sum_x) r.sum_x += detail::sum_floats(xc, n);
  }
  r.finite = true;
  return r;
}

// y_j = a exp(x_j - shift) + b over C floats (y may alias x).
inline void scaled_exp(const float* x, float* y, int64_t C, float shift, float a, float b) {
  for (int64_t j = 0; j < C; ++j) y[j] = std::fma(a, attention_math::poly_exp(x[j] - shift), b);
}

}  // namespace ff::kernels::cpu::row_exp
