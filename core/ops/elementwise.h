#pragma once
// Elementwise ops with numpy broadcasting. Differentiable unless marked in-place (`_`).

#include "core/tensor/tensor.h"

namespace ff {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);

Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor affine(const Tensor& x, double scale, double shift);  // scale * x + shift
Tensor pow(const Tensor& x, double exponent);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor relu(const Tensor& x);
// relu's backward, not recorded: g where x > 0, else 0 (x may be relu's input or its output).
Tensor relu_backward(const Tensor& g, const Tensor& x);
Tensor gelu(const Tensor& x);  // erf form: x * Phi(x)
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);

// cond (u8, broadcast) ? a : b
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// x with `value` where mask (u8, broadcast to x) is nonzero.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

// In place, never recorded (optimizer updates, gradient accumulation, initialisation).
void fill_(Tensor& x, double value);
void add_(Tensor& x, const Tensor& y, double alpha = 1.0);  // x += alpha * y
void mul_(Tensor& x, double value);                          // x *= value

}  // namespace ff
