#include "core/ops/softmax.h"

#include <type_traits>

#include "core/autograd/autograd.h"
#include "core/ops/dispatch.h"
#include "core/ops/view.h"
#include "kernels/softmax.h"

namespace ff {
namespace {

Tensor contiguous_raw(const Tensor& x) { return x.is_contiguous() ? x : contiguous(x); }

// The forward output y: (rows, D) and the upstream gradient g -> dx.
Tensor softmax_backward_raw(const Tensor& y, const Tensor& g_in, bool log) {
  Tensor g = contiguous_raw(g_in);
  Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
  const int64_t D = y.dim() == 0 ? 1 : y.size(-1);
  const int64_t rows = D == 0 ? 0 : y.numel() / D;
  visit_float(y.dtype(), [&]<typename T>() {
    if (y.device().is_cpu()) {
      kernels::cpu::softmax_backward<T>(y.data<T>(), g.data<T>(), dx.data<T>(), rows, D, log);
    } else {
      FF_CHECK((std::is_same_v<T, float>), "softmax on CUDA needs f32, got {}", y.str());
      if constexpr (std::is_same_v<T, float>)
        FF_CUDA_CALL(kernels::cuda::softmax_backward(y.data<float>(), g.data<float>(), dx.data<float>(), rows, D,
                                                     log, FF_STREAM(y)));
    }
  });
  return dx;
}

// Softmax over the last dim of x (any layout; 0-dim is one row of one element).
Tensor softmax_last(const Tensor& x_in, bool log, const char* name) {
  Tensor x = contiguous_raw(x_in.detach());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t D = x.dim() == 0 ? 1 : x.size(-1);
  const int64_t rows = D == 0 ? 0 : x.numel() / D;
  visit_float(x.dtype(), [&]<typename T>() {
    if (x.device().is_cpu()) {
      kernels::cpu::softmax_forward<T>(x.data<T>(), y.data<T>(), rows, D, log);
    } else {
      FF_CHECK((std::is_same_v<T, float>), "{} on CUDA needs f32, got {}", name, x.str());
      if constexpr (std::is_same_v<T, float>)
        FF_CUDA_CALL(kernels::cuda::softmax_forward(x.data<float>(), y.data<float>(), rows, D, log, FF_STREAM(y)));
    }
  });
  record_op(y, name, {x_in}, [saved = y.detach(), log](const Tensor& g, const std::vector<bool>&) {
    return Grads{softmax_backward_raw(saved, g, log)};
  });
  return y;
}

Tensor softmax_along(const Tensor& x, int64_t dim, bool log, const char* name) {
  if (x.dim() == 0) return softmax_last(x, log, name);
  dim = wrap_dim(dim, x.dim());
  if (dim == x.dim() - 1) return softmax_last(x, log, name);
  return transpose(softmax_last(transpose(x, dim, -1), log, name), dim, -1);
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_along(x, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_along(x, dim, true, "log_softmax"); }

}  // namespace ff
