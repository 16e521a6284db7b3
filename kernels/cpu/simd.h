#pragma once
// A minimal SIMD vector for register-blocked CPU micro-kernels: Vec<T>::kLanes lanes of T with
// unaligned load/store, broadcast, arithmetic (fused multiply-add and -subtract), lane-wise
// comparison masks and selects, and a horizontal sum. AVX2 + FMA builds (-march=native on an
// AVX2 host, or the portable x86-64-v3) get 8 floats / 4 doubles in a ymm register; any
// other build gets one lane through std::fma, so the kernels compile and stay exact everywhere.
// (The project builds with -std=c++20, where GCC does not contract a * b + c into an FMA, so
// the FMA is explicit.)

#include <cmath>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define FF_SIMD_AVX2 1
#endif

namespace ff::kernels::cpu::simd {

template <typename T>
struct Vec;

#if defined(FF_SIMD_AVX2)
template <>
struct Vec<float> {
  static constexpr int kLanes = 8;
  __m256 v;
  static Vec zero() { return {_mm256_setzero_ps()}; }
  static Vec load(const float* p) { return {_mm256_loadu_ps(p)}; }
  static Vec broadcast(const float* p) { return {_mm256_broadcast_ss(p)}; }
  static Vec splat(float x) { return {_mm256_set1_ps(x)}; }
  void store(float* p) const { _mm256_storeu_ps(p, v); }
};
template <>
struct Vec<double> {
  static constexpr int kLanes = 4;
  __m256d v;
  static Vec zero() { return {_mm256_setzero_pd()}; }
  static Vec load(const double* p) { return {_mm256_loadu_pd(p)}; }
  static Vec broadcast(const double* p) { return {_mm256_broadcast_sd(p)}; }
  static Vec splat(double x) { return {_mm256_set1_pd(x)}; }
  void store(double* p) const { _mm256_storeu_pd(p, v); }
};
// a * b + c, one rounding.
inline Vec<float> fma(Vec<float> a, Vec<float> b, Vec<float> c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline Vec<double> fma(Vec<double> a, Vec<double> b, Vec<double> c) { return {_mm256_fmadd_pd(a.v, b.v, c.v)}; }
inline Vec<float> mul(Vec<float> a, Vec<float> b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline Vec<double> mul(Vec<double> a, Vec<double> b) { return {_mm256_mul_pd(a.v, b.v)}; }
// a * b - c, one rounding.
inline Vec<float> fms(Vec<float> a, Vec<float> b, Vec<float> c) { return {_mm256_fmsub_ps(a.v, b.v, c.v)}; }
inline Vec<double> fms(Vec<double> a, Vec<double> b, Vec<double> c) { return {_mm256_fmsub_pd(a.v, b.v, c.v)}; }
inline Vec<float> add(Vec<float> a, Vec<float> b) { return {_mm256_add_ps(a.v, b.v)}; }
inline Vec<double> add(Vec<double> a, Vec<double> b) { return {_mm256_add_pd(a.v, b.v)}; }
inline Vec<float> sub(Vec<float> a, Vec<float> b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline Vec<double> sub(Vec<double> a, Vec<double> b) { return {_mm256_sub_pd(a.v, b.v)}; }
inline Vec<float> div(Vec<float> a, Vec<float> b) { return {_mm256_div_ps(a.v, b.v)}; }
inline Vec<double> div(Vec<double> a, Vec<double> b) { return {_mm256_div_pd(a.v, b.v)}; }
inline Vec<float> abs(Vec<float> a) { return {_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v)}; }
inline Vec<double> abs(Vec<double> a) { return {_mm256_andnot_pd(_mm256_set1_pd(-0.0), a.v)}; }
// Lane masks (all bits set where true) and the select they feed.
inline Vec<float> less(Vec<float> a, Vec<float> b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
inline Vec<double> less(Vec<double> a, Vec<double> b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LT_OQ)}; }
// mask ? a : b, lane-wise.
inline Vec<float> select(Vec<float> mask, Vec<float> a, Vec<float> b) { return {_mm256_blendv_ps(b.v, a.v, mask.v)}; }
inline Vec<double> select(Vec<double> mask, Vec<double> a, Vec<double> b) { return {_mm256_blendv_pd(b.v, a.v, mask.v)}; }
// Sum of the lanes.
inline float hsum(Vec<float> a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline double hsum(Vec<double> a) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a.v), _mm256_extractf128_pd(a.v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}
#else
template <typename T>
struct Vec {
  static constexpr int kLanes = 1;
  T v;
  static Vec zero() { return {T(0)}; }
  static Vec load(const T* p) { return {*p}; }
  static Vec broadcast(const T* p) { return {*p}; }
  static Vec splat(T x) { return {x}; }
  void store(T* p) const { *p = v; }
};
template <typename T>
Vec<T> fma(Vec<T> a, Vec<T> b, Vec<T> c) {
  return {std::fma(a.v, b.v, c.v)};
}
template <typename T>
Vec<T> mul(Vec<T> a, Vec<T> b) {
  return {a.v * b.v};
}
template <typename T>
Vec<T> fms(Vec<T> a, Vec<T> b, Vec<T> c) {
  return {std::fma(a.v, b.v, -c.v)};
}
template <typename T>
Vec<T> add(Vec<T> a, Vec<T> b) {
  return {a.v + b.v};
}
template <typename T>
Vec<T> sub(Vec<T> a, Vec<T> b) {
  return {a.v - b.v};
}
template <typename T>
Vec<T> div(Vec<T> a, Vec<T> b) {
  return {a.v / b.v};
}
template <typename T>
Vec<T> abs(Vec<T> a) {
  return {std::fabs(a.v)};
}
// Masks are 1 (true) or 0.
template <typename T>
Vec<T> less(Vec<T> a, Vec<T> b) {
  return {a.v < b.v ? T(1) : T(0)};
}
template <typename T>
Vec<T> select(Vec<T> mask, Vec<T> a, Vec<T> b) {
  return {mask.v != T(0) ? a.v : b.v};
}
template <typename T>
T hsum(Vec<T> a) {
  return a.v;
}
#endif

}  // namespace ff::kernels::cpu::simd
