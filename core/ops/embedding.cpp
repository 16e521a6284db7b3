#include "core/ops/embedding.h"

#include "core/autograd/autograd.h"
#include "core/ops/dispatch.h"
#include "core/ops/view.h"
#include "kernels/embedding.h"

namespace ff {
namespace {

template <typename Fn>
void visit_index(DType t, Fn&& fn) {
  switch (t) {
    case DType::I32: fn.template operator()<int32_t>(); return;
    case DType::I64: fn.template operator()<int64_t>(); return;
    default: break;
  }
  throw Error(fmt::format("embedding: ids must be int32 or int64, got {}", dtype_name(t)));
}

Tensor contiguous_raw(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  copy_(out, x);
  return out;
}

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  FF_CHECK(weight.defined() && ids.defined(), "embedding: undefined weight or ids");
  FF_CHECK(weight.dim() == 2, "embedding: weight must be (V, D), got {}", shape_str(weight.shape()));
  FF_CHECK(ids.dtype() == DType::I32 || ids.dtype() == DType::I64, "embedding: ids must be int32 or int64, got {}",
           ids.str());
  check_same_device("embedding", {&weight, &ids});
  const int64_t V = weight.size(0), D = weight.size(1), n = ids.numel();
  Tensor w = contiguous_raw(weight.detach());
  Tensor idx = contiguous_raw(ids.detach());
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, weight.dtype(), weight.device());
  visit_float(weight.dtype(), [&]<typename T>() {
    visit_index(idx.dtype(), [&]<typename I>() {
      if (out.device().is_cpu()) {
        kernels::cpu::embedding_forward<T, I>(w.data<T>(), idx.data<I>(), out.data<T>(), n, V, D);
      } else {
        FF_CUDA_CALL(kernels::cuda::embedding_forward<T, I>(w.data<T>(), idx.data<I>(), out.data<T>(), n, V, D,
                                                            FF_STREAM(out)));
      }
    });
  });
  record_op(out, "embedding", {weight}, [idx, V, D, n](const Tensor& g, const std::vector<bool>&) {
    Tensor gc = contiguous_raw(g);
    Tensor gw = Tensor::zeros({V, D}, g.dtype(), g.device());
    visit_float(g.dtype(), [&]<typename T>() {
      visit_index(idx.dtype(), [&]<typename I>() {
        if (gw.device().is_cpu()) {
          kernels::cpu::embedding_backward<T, I>(gc.data<T>(), idx.data<I>(), gw.data<T>(), n, V, D);
        } else {
          FF_CUDA_CALL(kernels::cuda::embedding_backward<T, I>(gc.data<T>(), idx.data<I>(), gw.data<T>(), n, V, D,
                                                               FF_STREAM(gw)));
        }
      });
    });
    return Grads{gw};
  });
  return out;
}

}  // namespace ff
