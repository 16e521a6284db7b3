#pragma once
// Scalar math of the attention kernels, written once for the CPU loops and the CUDA kernels
// (FF_HD). float uses polynomial exp/log/sin/cos on the host so the CPU loops vectorise (glibc
// only vectorises libm calls under -ffast-math) and the fast intrinsics on the device; double
// uses the exact library functions (it backs the float64 gradient checks).
//
// The Fourier score of one (query, key) pair is p * sum_d log|sinc(x_d)|, x_d = R_d (q_d - k_d),
// with sin(x_d) = sin(R_d q_d) cos(R_d k_d) - cos(R_d q_d) sin(R_d k_d) from per-token sin/cos.
// That identity has an absolute error of about one ulp, so near x = 0 (where sinc -> 1 and
// sin x -> 0) the ratio is replaced by its Taylor series; the same holds for the derivative
// g(x) = d/dx log|sinc x| = cot x - 1/x.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/common.h"

namespace ff::kernels::attention_math {

template <typename T>
struct Consts;
template <>
struct Consts<float> {
  // Below this |x| the Taylor series of sinc and g are used (truncation < 1e-13 there).
  static constexpr float kSmallX = 0.25f;
  // |x sin x| is clamped to at least this in g: at that point sinc^p is far below anything
  // exp() represents, so P = 0 and 0 * g stays 0 instead of 0 * inf = NaN.
  static constexpr float kTinyDen = 1e-20f;
};
template <>
struct Consts<double> {
  static constexpr double kSmallX = 0.25;
  static constexpr double kTinyDen = 1e-150;
};

template <typename T>
FF_HD T neg_inf() {
  return -std::numeric_limits<T>::infinity();
}

// ---- float polynomial exp / log / sincos (host, vectorisable; accurate to a few ulp) ----

FF_HD std::uint32_t float_bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
FF_HD float bits_float(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// exp(x); 0 below -87.3 (no denormals), exp(-inf) = 0.
FF_HD float poly_exp(float x) {
  const float lo = x < -87.3f ? -87.3f : x;
  const float xc = lo > 88.3f ? 88.3f : lo;
  const float n = std::nearbyint(xc * 1.44269504088896341f);
  float r = std::fma(n, -0.693359375f, xc);  // x - n ln2 in two parts (Cody-Waite)
  r = std::fma(n, 2.12194440e-4f, r);
  float y = 1.9875691500e-4f;
  y = std::fma(y, r, 1.3981999507e-3f);
  y = std::fma(y, r, 8.3334519073e-3f);
  y = std::fma(y, r, 4.1665795894e-2f);
  y = std::fma(y, r, 1.6666665459e-1f);
  y = std::fma(y, r, 5.0000001201e-1f);
  y = std::fma(y, r * r, r + 1.0f);
  const float scale = bits_float(std::uint32_t(std::int32_t(n) + 127) << 23);
  const float result = y * scale;
  return x < -87.3f ? 0.0f : result;
}

// log(x) for x >= 0 (denormals included); log(0) = -inf.
FF_HD float poly_log(float x) {
  // Every operation runs unconditionally and only values are selected, so the compiler can
  // if-convert and vectorise the callers' loops (FP ops under a condition might trap).
  // Each condition feeds exactly one select: GCC would otherwise thread jumps through a
  // condition used twice and leave a branch that blocks if-conversion.
  const float pre = x < 1.17549435e-38f ? 8388608.0f : 1.0f;  // denormals: scale by 2^23
  const std::uint32_t u = float_bits(x * pre);
  const std::int32_t pre_exp = std::int32_t(float_bits(pre) >> 23) - 127;  // 23 or 0
  const float e0 = float(std::int32_t(u >> 23) - 126 - pre_exp);
  const float m0 = bits_float((u & 0x007fffffu) | 0x3f000000u);  // mantissa in [0.5, 1)
  const float twice = m0 < 0.707106781186547524f ? 2.0f : 1.0f;
  const float e = e0 - (twice - 1.0f);
  const float m = m0 * twice - 1.0f;  // log(1 + m), m in [-0.29, 0.41]
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = std::fma(y, m, -1.1514610310e-1f);
  y = std::fma(y, m, 1.1676998740e-1f);
  y = std::fma(y, m, -1.2420140846e-1f);
  y = std::fma(y, m, 1.4249322787e-1f);
  y = std::fma(y, m, -1.6668057665e-1f);
  y = std::fma(y, m, 2.0000714765e-1f);
  y = std::fma(y, m, -2.4999993993e-1f);
  y = std::fma(y, m, 3.3333331174e-1f);
  y = y * m * z;
  y = std::fma(e, -2.12194440e-4f, y);
  y = std::fma(z, -0.5f, y);
  const float r = std::fma(e, 0.693359375f, m + y);
  return x == 0.0f ? -std::numeric_limits<float>::infinity() : r;
}

// Inputs with larger magnitude lose accuracy in the polynomial sincos's range reduction;
// callers use the library for them.
inline constexpr float kPolySinCosLimit = 8192.0f;

// sin(x) and cos(x) for |x| <= kPolySinCosLimit.
FF_HD void poly_sincos(float x, float& s, float& c) {
  const float n = std::nearbyint(x * 0.636619772367581343f);  // quadrant: x = n pi/2 + r
  float r = std::fma(n, -1.5703125f, x);
  r = std::fma(n, -4.837512969970703125e-4f, r);
  r = std::fma(n, -7.54978995489188216e-8f, r);
  const float z = r * r;
  float ps = -1.9515295891e-4f;
  ps = std::fma(ps, z, 8.3321608736e-3f);
  ps = std::fma(ps, z, -1.6666654611e-1f);
  const float sr = std::fma(ps * z, r, r);
  float pc = 2.443315711809948e-5f;
  pc = std::fma(pc, z, -1.388731625493765e-3f);
  pc = std::fma(pc, z, 4.166664568298827e-2f);
  const float cr = std::fma(pc * z, z, std::fma(z, -0.5f, 1.0f));
  const std::int32_t q = std::int32_t(n) & 3;
  const float s0 = (q & 1) ? cr : sr;
  const float c0 = (q & 1) ? sr : cr;
  s = (q & 2) ? -s0 : s0;
  c = ((q + 1) & 2) ? -c0 : c0;
}

// ---- type-dispatched exp / log used by the kernels ---------------------------------------

FF_HD float exp_of(float x) {
#if defined(__CUDA_ARCH__)
  return __expf(x);
#else
  return poly_exp(x);
#endif
}
FF_HD double exp_of(double x) { return ::exp(x); }

FF_HD float log_of(float x) {
#if defined(__CUDA_ARCH__)
  return __logf(x);
#else
  return poly_log(x);
#endif
}
FF_HD double log_of(double x) { return ::log(x); }

// ---- Fourier score pieces --------------------------------------------------------------

// sin(a - b) and cos(a - b) from sin/cos of a and b.
template <typename T>
FF_HD T sin_diff(T sa, T ca, T sb, T cb) {
  return sa * cb - ca * sb;
}
template <typename T>
FF_HD T cos_diff(T sa, T ca, T sb, T cb) {
  return ca * cb + sa * sb;
}

// sinc(x) = num / den: (sin x, x) normally, (Taylor series, 1) for small |x|. Several
// factors' num and den are multiplied before one division and one log (log_abs_ratio).
template <typename T>
FF_HD void sinc_factor(T x, T sin_x, T& num, T& den) {
  const T z = x * x;
  T taylor = T(1.0 / 362880.0);
  taylor = taylor * z - T(1.0 / 5040.0);
  taylor = taylor * z + T(1.0 / 120.0);
  taylor = taylor * z - T(1.0 / 6.0);
  taylor = taylor * z + T(1);
  const bool small = std::fabs(x) < Consts<T>::kSmallX;
  num = small ? taylor : sin_x;
  den = small ? T(1) : x;
}

// log|num / den|; -inf when num is 0 (a zero of sinc).
template <typename T>
FF_HD T log_abs_ratio(T num, T den) {
  return log_of(std::fabs(num / den));
}

// g(x) = d/dx log|sinc x| = cot x - 1/x = (x cos x - sin x) / (x sin x); finite everywhere
// (series near 0, denominator clamped away from 0 at the zeros of sinc, where P = 0).
template <typename T>
FF_HD T log_sinc_deriv(T x, T sin_x, T cos_x) {
  const T z = x * x;
  // -x/3 - x^3/45 - 2x^5/945 - x^7/4725 - 2x^9/93555
  T series = T(-2.0 / 93555.0);
  series = series * z - T(1.0 / 4725.0);
  series = series * z - T(2.0 / 945.0);
  series = series * z - T(1.0 / 45.0);
  series = series * z - T(1.0 / 3.0);
  series = series * x;
  T den = x * sin_x;
  den = std::fabs(den) < Consts<T>::kTinyDen ? Consts<T>::kTinyDen : den;
  const T ratio = (x * cos_x - sin_x) / den;
  return std::fabs(x) < Consts<T>::kSmallX ? series : ratio;
}

// ---- online softmax --------------------------------------------------------------------

// Running state of one row: max m and sum l of exp(s - m). With the eps key it starts at
// m = log(eps), l = 1 (exp(log eps - log eps)); without it at m = -inf, l = 0.
template <typename T>
struct SoftmaxState {
  T m;
  T l;
};

template <typename T>
FF_HD SoftmaxState<T> softmax_init(T log_eps) {
  return {log_eps, log_eps == neg_inf<T>() ? T(0) : T(1)};
}

// The reference point for exp(s - m): m itself unless nothing finite has been seen yet
// (then every weight is exp(-inf) = 0 and 0 avoids -inf - -inf = NaN).
template <typename T>
FF_HD T softmax_ref(T m) {
  return m == neg_inf<T>() ? T(0) : m;
}

// Moves the state to a new maximum (new_max >= state.m); returns the factor that the
// running sum of weighted values must be multiplied by.
template <typename T>
FF_HD T softmax_rescale(SoftmaxState<T>& state, T new_max) {
  // An empty state (m = -inf) has l = 0 and no weighted values: its factor is 0.
  const T alpha = state.m == neg_inf<T>() ? T(0) : exp_of(state.m - new_max);
  state.l *= alpha;
  state.m = new_max;
  return alpha;
}

// log-sum-exp of the finished row; -inf when no weight was positive.
template <typename T>
FF_HD T softmax_lse(const SoftmaxState<T>& state) {
  return state.l > T(0) ? state.m + log_of(state.l) : neg_inf<T>();
}

// Normalised weight of a score given the row's log-sum-exp (0 for masked / -inf rows).
template <typename T>
FF_HD T softmax_weight(T s, T lse) {
  return lse == neg_inf<T>() ? T(0) : exp_of(s - lse);
}

}  // namespace ff::kernels::attention_math
