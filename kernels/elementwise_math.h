#pragma once
// The math of every elementwise op, written once for host and device. Kernels instantiate a
// loop per op (a template parameter), so there is no per-element switch.

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/attention_math.h"
#include "kernels/common.h"

namespace ff::kernels {

// Phi(x) and phi(x), the standard normal's CDF and density (GELU and its derivative). float on
// the host: erfc(u) = exp(-u^2) R(2 / (2 + u)), u = |x| / sqrt 2, R a degree-9 polynomial
// (scripts/dev/fit_erfc.py derives it; relative error 2e-7), with attention_math.h's
// polynomial exp, so the CPU loops vectorise; u^2's rounding error is carried by an FMA.
// Elsewhere (double, the device) the library's erf and exp.
template <typename T>
FF_HD void normal_cdf_pdf(T x, T& cdf, T& pdf) {
  constexpr T kInvSqrt2 = T(0.70710678118654752440), kInvSqrt2Pi = T(0.39894228040143267794);
#ifndef __CUDA_ARCH__
  if constexpr (std::is_same_v<T, float>) {
    // u^2 = x^2 / 2 and its rounding error (none where exp underflows, nor for x = inf).
    const float u = std::fabs(x) * kInvSqrt2, u2 = 0.5f * (x * x);
    const float u2_err = u2 < 88.0f ? 0.5f * std::fma(x, x, -(x * x)) : 0.0f;
    const float e = attention_math::poly_exp(-u2) * (1.0f - u2_err);  // exp(-x^2 / 2)
    const float t = 2.0f / (2.0f + u);
    float r = std::fma(-0.05451054498553276f, t, 0.26097404956817627f);
    r = std::fma(r, t, -0.434623658657074f);
    r = std::fma(r, t, 0.2121223509311676f);
    r = std::fma(r, t, 0.024531763046979904f);
    r = std::fma(r, t, 0.177315354347229f);
    r = std::fma(r, t, 0.25112268328666687f);
    r = std::fma(r, t, 0.280822217464447f);
    r = std::fma(r, t, 0.28225332498550415f);
    r = std::fma(r, t, -7.575605650345096e-06f);
    const float half_erfc = 0.5f * e * r;
    cdf = x < 0.0f ? half_erfc : 1.0f - half_erfc;
    pdf = e * kInvSqrt2Pi;
    return;
  }
#endif
  using std::erf, std::exp;
  cdf = T(0.5) * (T(1) + erf(x * kInvSqrt2));
  pdf = exp(T(-0.5) * x * x) * kInvSqrt2Pi;
}

// y = f(x; a, b)
enum class UnaryOp : uint8_t {
  Neg, Exp, Log, Sqrt, Rsqrt, Square, Abs, Sign, Relu, Gelu, Tanh, Sigmoid,
  Affine,     // a * x + b
  PowScalar,  // x ^ a
  Reciprocal,
  Fill,       // a (x ignored)
};

// z = f(x, y). The *Backward ops take (upstream gradient, saved value).
enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Maximum, Minimum,
  GreaterEqual,     // 1 where x >= y, else 0
  ReluBackward,     // (g, x): g where x > 0
  GeluBackward,     // (g, x): g * d gelu(x) / dx
  TanhBackward,     // (g, y = tanh x): g * (1 - y^2)
  SigmoidBackward,  // (g, y = sigmoid x): g * y * (1 - y)
};

template <UnaryOp op, typename T>
FF_HD T unary_fn(T x, T a, T b) {
  using std::abs, std::exp, std::log, std::sqrt, std::tanh, std::erf, std::pow;
  if constexpr (op == UnaryOp::Neg) return -x;
  if constexpr (op == UnaryOp::Exp) return exp(x);
  if constexpr (op == UnaryOp::Log) return log(x);
  if constexpr (op == UnaryOp::Sqrt) return sqrt(x);
  if constexpr (op == UnaryOp::Rsqrt) return T(1) / sqrt(x);
  if constexpr (op == UnaryOp::Square) return x * x;
  if constexpr (op == UnaryOp::Abs) return abs(x);
  if constexpr (op == UnaryOp::Sign) return T((x > T(0)) - (x < T(0)));
  if constexpr (op == UnaryOp::Relu) return x > T(0) ? x : T(0);
  if constexpr (op == UnaryOp::Gelu) {
    T cdf, pdf;
    normal_cdf_pdf(x, cdf, pdf);
    return x * cdf;
  }
  if constexpr (op == UnaryOp::Tanh) return tanh(x);
  if constexpr (op == UnaryOp::Sigmoid) return T(1) / (T(1) + exp(-x));
  if constexpr (op == UnaryOp::Affine) return a * x + b;
  if constexpr (op == UnaryOp::PowScalar) return pow(x, a);
  if constexpr (op == UnaryOp::Reciprocal) return T(1) / x;
  if constexpr (op == UnaryOp::Fill) return a;
}

template <BinaryOp op, typename T>
FF_HD T binary_fn(T x, T y) {
  using std::exp, std::erf;
  if constexpr (op == BinaryOp::Add) return x + y;
  if constexpr (op == BinaryOp::Sub) return x - y;
  if constexpr (op == BinaryOp::Mul) return x * y;
  if constexpr (op == BinaryOp::Div) return x / y;
  if constexpr (op == BinaryOp::Maximum) return x > y ? x : y;
  if constexpr (op == BinaryOp::Minimum) return x < y ? x : y;
  if constexpr (op == BinaryOp::GreaterEqual) return x >= y ? T(1) : T(0);
  if constexpr (op == BinaryOp::ReluBackward) return y > T(0) ? x : T(0);
  if constexpr (op == BinaryOp::GeluBackward) {
    T cdf, pdf;
    normal_cdf_pdf(y, cdf, pdf);
    return x * (cdf + y * pdf);
  }
  if constexpr (op == BinaryOp::TanhBackward) return x * (T(1) - y * y);
  if constexpr (op == BinaryOp::SigmoidBackward) return x * y * (T(1) - y);
}

// Calls fn.template operator()<OP>() with the op as a compile-time constant.
template <typename Fn>
void visit_unary(UnaryOp op, Fn&& fn) {
  switch (op) {
#define FF_CASE(name) case UnaryOp::name: fn.template operator()<UnaryOp::name>(); return;
    FF_CASE(Neg) FF_CASE(Exp) FF_CASE(Log) FF_CASE(Sqrt) FF_CASE(Rsqrt) FF_CASE(Square)
    FF_CASE(Abs) FF_CASE(Sign) FF_CASE(Relu) FF_CASE(Gelu) FF_CASE(Tanh) FF_CASE(Sigmoid)
    FF_CASE(Affine) FF_CASE(PowScalar) FF_CASE(Reciprocal) FF_CASE(Fill)
#undef FF_CASE
  }
}

template <typename Fn>
void visit_binary(BinaryOp op, Fn&& fn) {
  switch (op) {
#define FF_CASE(name) case BinaryOp::name: fn.template operator()<BinaryOp::name>(); return;
    FF_CASE(Add) FF_CASE(Sub) FF_CASE(Mul) FF_CASE(Div) FF_CASE(Maximum) FF_CASE(Minimum) FF_CASE(GreaterEqual)
    FF_CASE(ReluBackward) FF_CASE(GeluBackward) FF_CASE(TanhBackward) FF_CASE(SigmoidBackward)
#undef FF_CASE
  }
}

}  // namespace ff::kernels
