#pragma once
// A minimal SIMD vector for register-blocked CPU micro-kernels: Vec<T>::kLanes lanes of T with
// unaligned load/store, broadcast and fused multiply-add. AVX2 + FMA builds (-march=native on
// an AVX2 host, or the portable x86-64-v3) get 8 floats / 4 doubles in a ymm register; any
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
#endif

}  // namespace ff::kernels::cpu::simd
