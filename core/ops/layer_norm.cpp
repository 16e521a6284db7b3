#include "core/ops/layer_norm.h"

#include "core/autograd/autograd.h"
#include "core/ops/autocast.h"
#include "core/ops/dispatch.h"
#include "core/ops/view.h"
#include "kernels/layer_norm.h"

namespace ff {
namespace {

using kernels::kLayerNormDTypes;

// x, g: (rows, D) contiguous, weight: (D) or undefined, mean/rstd: (rows) -> {dx, dweight, dbias},
// each computed only where wanted.
Grads layer_norm_backward_raw(const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& rstd,
                              const Tensor& g_in, bool want_dx, bool want_dw, bool want_db) {
  Tensor g = contiguous_raw(g_in);
  const int64_t D = x.size(-1);
  const int64_t rows = D == 0 ? 0 : x.numel() / D;
  Tensor dx = want_dx ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
  Tensor dw = want_dw ? Tensor::empty({D}, x.dtype(), x.device()) : Tensor();
  Tensor db = want_db ? Tensor::empty({D}, x.dtype(), x.device()) : Tensor();
  dispatch<kLayerNormDTypes>("layer_norm backward", x, [&]<typename T>(auto exec) {
    const int64_t ws = want_dw || want_db ? layer_norm_backward_workspace(exec, rows, D) : 0;
    Tensor workspace = ws > 0 ? Tensor::empty({ws}, DType::F32, x.device()) : Tensor();
    layer_norm_backward<T>(exec, x.data<T>(), data_or_null<T>(weight), mean.data<T>(), rstd.data<T>(), g.data<T>(),
                           data_or_null<T>(dx), data_or_null<T>(dw), data_or_null<T>(db), rows, D,
                           data_or_null<float>(workspace));
  });
  return Grads{dx, dw, db};
}

}  // namespace

Tensor layer_norm(const Tensor& x_arg, const Tensor& weight_arg, const Tensor& bias_arg, double eps) {
  const Tensor x_in = autocast_f32(x_arg), weight = autocast_f32(weight_arg), bias = autocast_f32(bias_arg);
  FF_CHECK(x_in.dim() >= 1, "layer_norm needs at least one dim, got {}", x_in.str());
  const int64_t D = x_in.size(-1);
  for (const Tensor* p : {&weight, &bias}) {
    FF_CHECK(!p->defined() || p->shape() == Shape{D}, "layer_norm: weight/bias {} must be ({}) for x {}", p->str(), D,
             x_in.str());
  }
  check_same_device("layer_norm", {&x_in, &weight, &bias});
  check_same_dtype("layer_norm", {&x_in, &weight, &bias});
  if (computes_in_f32<kLayerNormDTypes>(x_in)) {
    auto f32 = [](const Tensor& t) { return t.defined() ? to_dtype(t, DType::F32) : t; };
    return to_dtype(layer_norm(f32(x_in), f32(weight), f32(bias), eps), x_in.dtype());
  }
  Tensor x = contiguous_raw(x_in.detach());
  Tensor w = weight.defined() ? contiguous_raw(weight.detach()) : Tensor();
  Tensor b = bias.defined() ? contiguous_raw(bias.detach()) : Tensor();
  const int64_t rows = D == 0 ? 0 : x.numel() / D;
  Shape row_shape(x.shape().begin(), x.shape().end() - 1);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty(row_shape, x.dtype(), x.device());
  Tensor rstd = Tensor::empty(row_shape, x.dtype(), x.device());
  dispatch<kLayerNormDTypes>("layer_norm", x, [&]<typename T>(auto exec) {
    layer_norm_forward<T>(exec, x.data<T>(), data_or_null<T>(w), data_or_null<T>(b), y.data<T>(), mean.data<T>(),
                          rstd.data<T>(), rows, D, eps);
  });
  if (any_requires_grad({x_in, weight, bias})) {
    record_op(y, "layer_norm", {x_in, weight, bias},
              [x, w, mean, rstd](const Tensor& g, const std::vector<bool>& needs) {
                return layer_norm_backward_raw(x, w, mean, rstd, g, needs[0], needs[1], needs[2]);
              });
  }
  return y;
}

}  // namespace ff
