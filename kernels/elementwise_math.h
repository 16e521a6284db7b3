#pragma once
// The math of every elementwise op, written once for host and device. Kernels instantiate a
// loop per op (a template parameter), so there is no per-element switch.

#include <cmath>
#include <cstdint>

#include "kernels/common.h"

namespace ff::kernels {

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
  if constexpr (op == UnaryOp::Gelu) return T(0.5) * x * (T(1) + erf(x * T(0.70710678118654752440)));
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
    T cdf = T(0.5) * (T(1) + erf(y * T(0.70710678118654752440)));
    T pdf = exp(T(-0.5) * y * y) * T(0.39894228040143267794);
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
