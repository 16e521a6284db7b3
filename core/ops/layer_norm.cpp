#include "core/ops/layer_norm.h"

#include <type_traits>

#include "core/autograd/autograd.h"
#include "core/ops/dispatch.h"
#include "core/ops/view.h"
#include "kernels/layer_norm.h"

namespace ff {
namespace {

Tensor contiguous_raw(const Tensor& x) { return x.is_contiguous() ? x : contiguous(x); }

template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

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
  visit_float(x.dtype(), [&]<typename T>() {
    if (x.device().is_cpu()) {
      kernels::cpu::layer_norm_backward<T>(x.data<T>(), data_or_null<T>(weight), mean.data<T>(), rstd.data<T>(),
                                           g.data<T>(), data_or_null<T>(dx), data_or_null<T>(dw),
                                           data_or_null<T>(db), rows, D);
    } else if constexpr (std::is_same_v<T, float>) {
#ifdef FF_WITH_CUDA
      const int64_t ws_size = (want_dw || want_db) ? kernels::cuda::layer_norm_backward_workspace(rows, D) : 0;
      Tensor workspace = ws_size > 0 ? Tensor::empty({ws_size}, DType::F32, x.device()) : Tensor();
      kernels::cuda::layer_norm_backward(x.data<float>(), data_or_null<float>(weight), mean.data<float>(),
                                         rstd.data<float>(), g.data<float>(), data_or_null<float>(dx),
                                         data_or_null<float>(dw), data_or_null<float>(db), rows, D,
                                         data_or_null<float>(workspace), FF_STREAM(x));
#else
      detail::throw_no_cuda();
#endif
    } else {
      FF_CHECK(false, "layer_norm on CUDA needs f32, got {}", x.str());
    }
  });
  return Grads{dx, dw, db};
}

}  // namespace

Tensor layer_norm(const Tensor& x_in, const Tensor& weight, const Tensor& bias, double eps) {
  FF_CHECK(x_in.dim() >= 1, "layer_norm needs at least one dim, got {}", x_in.str());
  const int64_t D = x_in.size(-1);
  for (const Tensor* p : {&weight, &bias}) {
    FF_CHECK(!p->defined() || p->shape() == Shape{D}, "layer_norm: weight/bias {} must be ({}) for x {}", p->str(), D,
             x_in.str());
  }
  check_same_device("layer_norm", {&x_in, &weight, &bias});
  check_same_dtype("layer_norm", {&x_in, &weight, &bias});
  Tensor x = contiguous_raw(x_in.detach());
  Tensor w = weight.defined() ? contiguous_raw(weight.detach()) : Tensor();
  Tensor b = bias.defined() ? contiguous_raw(bias.detach()) : Tensor();
  const int64_t rows = D == 0 ? 0 : x.numel() / D;
  Shape row_shape(x.shape().begin(), x.shape().end() - 1);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty(row_shape, x.dtype(), x.device());
  Tensor rstd = Tensor::empty(row_shape, x.dtype(), x.device());
  visit_float(x.dtype(), [&]<typename T>() {
    if (x.device().is_cpu()) {
      kernels::cpu::layer_norm_forward<T>(x.data<T>(), data_or_null<T>(w), data_or_null<T>(b), y.data<T>(),
                                          mean.data<T>(), rstd.data<T>(), rows, D, eps);
    } else {
      FF_CHECK((std::is_same_v<T, float>), "layer_norm on CUDA needs f32, got {}", x.str());
      if constexpr (std::is_same_v<T, float>)
        FF_CUDA_CALL(kernels::cuda::layer_norm_forward(x.data<float>(), data_or_null<float>(w),
                                                       data_or_null<float>(b), y.data<float>(), mean.data<float>(),
                                                       rstd.data<float>(), rows, D, eps, FF_STREAM(x)));
    }
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
