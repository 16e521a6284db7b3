#include "core/ops/softmax.h"

#include "core/autograd/autograd.h"
#include "core/ops/autocast.h"
#include "core/ops/dispatch.h"
#include "core/ops/view.h"
#include "kernels/softmax.h"

namespace ff {
namespace {

using kernels::kSoftmaxDTypes;

// The forward output y: (rows, D) and the upstream gradient g -> dx.
Tensor softmax_backward_raw(const Tensor& y, const Tensor& g_in, bool log) {
  Tensor g = contiguous_raw(g_in);
  Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
  const int64_t D = y.dim() == 0 ? 1 : y.size(-1);
  const int64_t rows = D == 0 ? 0 : y.numel() / D;
  dispatch<kSoftmaxDTypes>("softmax backward", y, [&]<typename T>(auto exec) {
    softmax_backward<T>(exec, y.data<T>(), g.data<T>(), dx.data<T>(), rows, D, log);
  });
  return dx;
}

// Softmax over the last dim of x (any layout; 0-dim is one row of one element).
Tensor softmax_last(const Tensor& x_in, bool log, const char* name) {
  if (computes_in_f32<kSoftmaxDTypes>(x_in))
    return to_dtype(softmax_last(to_dtype(x_in, DType::F32), log, name), x_in.dtype());
  Tensor x = contiguous_raw(x_in.detach());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t D = x.dim() == 0 ? 1 : x.size(-1);
  const int64_t rows = D == 0 ? 0 : x.numel() / D;
  dispatch<kSoftmaxDTypes>(name, x, [&]<typename T>(auto exec) {
    softmax_forward<T>(exec, x.data<T>(), y.data<T>(), rows, D, log);
  });
  record_op(y, name, {x_in}, [saved = y.detach(), log](const Tensor& g, const std::vector<bool>&) {
    return Grads{softmax_backward_raw(saved, g, log)};
  });
  return y;
}

Tensor softmax_along(const Tensor& x_in, int64_t dim, bool log, const char* name) {
  const Tensor x = autocast_f32(x_in);
  if (x.dim() == 0) return softmax_last(x, log, name);
  dim = wrap_dim(dim, x.dim());
  if (dim == x.dim() - 1) return softmax_last(x, log, name);
  return transpose(softmax_last(transpose(x, dim, -1), log, name), dim, -1);
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_along(x, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_along(x, dim, true, "log_softmax"); }

}  // namespace ff
