#include "core/ops/elementwise.h"

#include "core/autograd/autograd.h"
#include "core/ops/autocast.h"
#include "core/ops/dispatch.h"
#include "core/ops/reduce.h"
#include "core/ops/view.h"
#include "kernels/elementwise.h"

namespace ff {
namespace {

using kernels::BinaryOp;
using kernels::UnaryOp;

// Strides of x broadcast to `shape`, for an elementwise kernel.
Shape strides_for(const Tensor& x, const Shape& shape) {
  Shape strides(shape.size(), 0);
  size_t lead = shape.size() - x.dim();
  for (int64_t d = 0; d < x.dim(); ++d) strides[lead + d] = x.shape()[d] == 1 ? 0 : x.strides()[d];
  return strides;
}

void run_unary(UnaryOp op, Tensor& y, const Tensor& x, double a, double b) {
  auto ix = kernels::make_indexer<2>(y.shape(), {y.strides(), strides_for(x, y.shape())});
  dispatch<kernels::kElementwiseDTypes>("elementwise op", y, [&]<typename T>(auto exec) {
    unary<T>(exec, op, ix, y.data<T>(), x.data<T>(), a, b);
  });
}

Tensor unary_raw(UnaryOp op, const Tensor& x, double a = 0, double b = 0) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  run_unary(op, y, x, a, b);
  return y;
}

void run_binary(BinaryOp op, Tensor& z, const Tensor& x, const Tensor& y) {
  check_same_device("elementwise op", {&z, &x, &y});
  check_same_dtype("elementwise op", {&z, &x, &y});
  auto ix = kernels::make_indexer<3>(z.shape(), {z.strides(), strides_for(x, z.shape()), strides_for(y, z.shape())});
  dispatch<kernels::kElementwiseDTypes>("elementwise op", z, [&]<typename T>(auto exec) {
    binary<T>(exec, op, ix, z.data<T>(), x.data<T>(), y.data<T>());
  });
}

// Binary op without autograd, output in the broadcast shape.
Tensor binary_raw(BinaryOp op, const Tensor& x, const Tensor& y) {
  Tensor z = Tensor::empty(broadcast_shapes(x.shape(), y.shape()), x.dtype(), x.device());
  run_binary(op, z, x, y);
  return z;
}

// A unary op whose derivative is a binary "backward" op of (grad, saved); saved is the input
// or the output.
Tensor unary_with_backward(UnaryOp op, const Tensor& x, const char* name, BinaryOp backward_op,
                           bool save_output) {
  Tensor y = unary_raw(op, x);
  Tensor saved = (save_output ? y : x).detach();
  record_op(y, name, {x}, [backward_op, saved](const Tensor& g, const std::vector<bool>&) {
    return Grads{binary_raw(backward_op, g, saved)};
  });
  return y;
}

}  // namespace

Tensor add(const Tensor& a_in, const Tensor& b_in) {
  auto [a, b] = promote(a_in, b_in);
  Tensor out = binary_raw(BinaryOp::Add, a, b);
  record_op(out, "add", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& needs) {
    return Grads{needs[0] ? sum_to(g, sa) : Tensor(), needs[1] ? sum_to(g, sb) : Tensor()};
  });
  return out;
}

Tensor sub(const Tensor& a_in, const Tensor& b_in) {
  auto [a, b] = promote(a_in, b_in);
  Tensor out = binary_raw(BinaryOp::Sub, a, b);
  record_op(out, "sub", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& needs) {
    return Grads{needs[0] ? sum_to(g, sa) : Tensor(), needs[1] ? sum_to(neg(g), sb) : Tensor()};
  });
  return out;
}

Tensor mul(const Tensor& a_in, const Tensor& b_in) {
  auto [a, b] = promote(a_in, b_in);
  Tensor out = binary_raw(BinaryOp::Mul, a, b);
  record_op(out, "mul", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g, const std::vector<bool>& needs) {
    return Grads{needs[0] ? sum_to(mul(g, b), a.shape()) : Tensor(),
                 needs[1] ? sum_to(mul(g, a), b.shape()) : Tensor()};
  });
  return out;
}

Tensor div(const Tensor& a_in, const Tensor& b_in) {
  auto [a, b] = promote(a_in, b_in);
  Tensor out = binary_raw(BinaryOp::Div, a, b);
  record_op(out, "div", {a, b},
            [a = a.detach(), b = b.detach(), out = out.detach()](const Tensor& g, const std::vector<bool>& needs) {
              Tensor ga = needs[0] || needs[1] ? div(g, b) : Tensor();
              return Grads{needs[0] ? sum_to(ga, a.shape()) : Tensor(),
                           needs[1] ? sum_to(neg(mul(ga, out)), b.shape()) : Tensor()};
            });
  return out;
}

Tensor maximum(const Tensor& a_in, const Tensor& b_in) {
  auto [a, b] = promote(a_in, b_in);
  Tensor out = binary_raw(BinaryOp::Maximum, a, b);
  record_op(out, "maximum", {a, b},
            [a = a.detach(), b = b.detach()](const Tensor& g, const std::vector<bool>& needs) {
              // The gradient goes to a where a >= b, else to b.
              Tensor to_a = mul(g, binary_raw(BinaryOp::GreaterEqual, a, b));
              return Grads{needs[0] ? sum_to(to_a, a.shape()) : Tensor(),
                           needs[1] ? sum_to(sub(g, to_a), b.shape()) : Tensor()};
            });
  return out;
}

Tensor add(const Tensor& a, double b) { return affine(a, 1.0, b); }
Tensor mul(const Tensor& a, double b) { return affine(a, b, 0.0); }

Tensor affine(const Tensor& x, double scale, double shift) {
  Tensor y = unary_raw(UnaryOp::Affine, x, scale, shift);
  record_op(y, "affine", {x}, [scale](const Tensor& g, const std::vector<bool>&) {
    return Grads{unary_raw(UnaryOp::Affine, g, scale, 0.0)};
  });
  return y;
}

Tensor pow(const Tensor& x, double exponent) {
  Tensor y = unary_raw(UnaryOp::PowScalar, x, exponent);
  record_op(y, "pow", {x}, [x = x.detach(), exponent](const Tensor& g, const std::vector<bool>&) {
    return Grads{mul(g, affine(pow(x, exponent - 1), exponent, 0.0))};
  });
  return y;
}

Tensor neg(const Tensor& x) { return affine(x, -1.0, 0.0); }

Tensor exp(const Tensor& x) {
  Tensor y = unary_raw(UnaryOp::Exp, x);
  record_op(y, "exp", {x}, [y = y.detach()](const Tensor& g, const std::vector<bool>&) { return Grads{mul(g, y)}; });
  return y;
}

Tensor log(const Tensor& x) {
  Tensor y = unary_raw(UnaryOp::Log, x);
  record_op(y, "log", {x}, [x = x.detach()](const Tensor& g, const std::vector<bool>&) { return Grads{div(g, x)}; });
  return y;
}

Tensor sqrt(const Tensor& x) {
  Tensor y = unary_raw(UnaryOp::Sqrt, x);
  record_op(y, "sqrt", {x}, [y = y.detach()](const Tensor& g, const std::vector<bool>&) {
    return Grads{div(mul(g, 0.5), y)};
  });
  return y;
}

Tensor rsqrt(const Tensor& x) {
  Tensor y = unary_raw(UnaryOp::Rsqrt, x);
  record_op(y, "rsqrt", {x}, [y = y.detach()](const Tensor& g, const std::vector<bool>&) {
    return Grads{mul(g, affine(mul(y, mul(y, y)), -0.5, 0.0))};  // d/dx x^-1/2 = -1/2 x^-3/2
  });
  return y;
}

Tensor square(const Tensor& x) {
  Tensor y = unary_raw(UnaryOp::Square, x);
  record_op(y, "square", {x}, [x = x.detach()](const Tensor& g, const std::vector<bool>&) {
    return Grads{mul(g, mul(x, 2.0))};
  });
  return y;
}

Tensor abs(const Tensor& x) {
  Tensor y = unary_raw(UnaryOp::Abs, x);
  record_op(y, "abs", {x}, [x = x.detach()](const Tensor& g, const std::vector<bool>&) {
    return Grads{mul(g, unary_raw(UnaryOp::Sign, x))};
  });
  return y;
}

Tensor relu(const Tensor& x) { return unary_with_backward(UnaryOp::Relu, x, "relu", BinaryOp::ReluBackward, false); }
Tensor relu_backward(const Tensor& g, const Tensor& x) { return binary_raw(BinaryOp::ReluBackward, g, x); }
Tensor gelu(const Tensor& x) { return unary_with_backward(UnaryOp::Gelu, x, "gelu", BinaryOp::GeluBackward, false); }
Tensor tanh(const Tensor& x) { return unary_with_backward(UnaryOp::Tanh, x, "tanh", BinaryOp::TanhBackward, true); }
Tensor sigmoid(const Tensor& x) {
  return unary_with_backward(UnaryOp::Sigmoid, x, "sigmoid", BinaryOp::SigmoidBackward, true);
}

Tensor where(const Tensor& cond, const Tensor& a_in, const Tensor& b_in) {
  FF_CHECK(cond.dtype() == DType::U8, "where: condition must be u8, got {}", cond.str());
  auto [a, b] = promote(a_in, b_in);
  check_same_device("where", {&cond, &a, &b});
  check_same_dtype("where", {&a, &b});
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape()), b.shape());
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  auto ix = kernels::make_indexer<4>(
      shape, {out.strides(), strides_for(cond, shape), strides_for(a, shape), strides_for(b, shape)});
  dispatch<kernels::kElementwiseDTypes>("where", out, [&]<typename T>(auto exec) {
    where<T>(exec, ix, out.data<T>(), cond.data<uint8_t>(), a.data<T>(), b.data<T>());
  });
  record_op(out, "where", {a, b},
            [cond = cond.detach(), sa = a.shape(), sb = b.shape()](const Tensor& g, const std::vector<bool>& needs) {
              Tensor zero = Tensor::zeros({}, g.dtype(), g.device());
              return Grads{needs[0] ? sum_to(where(cond, g, zero), sa) : Tensor(),
                           needs[1] ? sum_to(where(cond, zero, g), sb) : Tensor()};
            });
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  return where(mask, Tensor::full({}, value, x.dtype(), x.device()), x);
}

void fill_(Tensor& x, double value) {
  if (is_floating(x.dtype())) {
    run_unary(UnaryOp::Fill, x, x, value, 0.0);
    return;
  }
  // Integer tensors: fill an f64 scalar and convert on copy.
  Tensor scalar = Tensor::empty({}, DType::F64, Device::cpu());
  *scalar.data<double>() = value;
  copy_(x, scalar);  // copy_ moves it to x's device
}

void add_(Tensor& x, const Tensor& y, double alpha) {
  if (alpha == 1.0) {
    run_binary(BinaryOp::Add, x, x, y);
  } else {
    run_binary(BinaryOp::Add, x, x, unary_raw(UnaryOp::Affine, y, alpha, 0.0));
  }
}

void mul_(Tensor& x, double value) { run_unary(UnaryOp::Affine, x, x, value, 0.0); }

}  // namespace ff
