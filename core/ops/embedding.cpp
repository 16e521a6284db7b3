#include "core/ops/embedding.h"

#include "core/autograd/autograd.h"
#include "core/ops/dispatch.h"
#include "core/ops/view.h"
#include "kernels/embedding.h"

namespace ff {

using kernels::kEmbeddingDTypes;

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  FF_CHECK(weight.defined() && ids.defined(), "embedding: undefined weight or ids");
  FF_CHECK(weight.dim() == 2, "embedding: weight must be (V, D), got {}", shape_str(weight.shape()));
  FF_CHECK(ids.dtype() == DType::I32 || ids.dtype() == DType::I64, "embedding: ids must be int32 or int64, got {}",
           ids.str());
  check_same_device("embedding", {&weight, &ids});
  if (computes_in_f32<kEmbeddingDTypes>(weight))
    return to_dtype(embedding(to_dtype(weight, DType::F32), ids), weight.dtype());
  const int64_t V = weight.size(0), D = weight.size(1), n = ids.numel();
  Tensor w = contiguous_raw(weight.detach());
  Tensor idx = contiguous_raw(ids.detach());
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, weight.dtype(), weight.device());
  visit_index("embedding", idx, [&]<typename I>() {
    dispatch<kEmbeddingDTypes>("embedding", weight, [&]<typename T>(auto exec) {
      embedding_forward<T, I>(exec, w.data<T>(), idx.data<I>(), out.data<T>(), n, V, D);
    });
  });
  record_op(out, "embedding", {weight}, [idx, V, D, n](const Tensor& g, const std::vector<bool>&) {
    Tensor gc = contiguous_raw(g);
    Tensor gw = Tensor::zeros({V, D}, g.dtype(), g.device());
    visit_index("embedding", idx, [&]<typename I>() {
      dispatch<kEmbeddingDTypes>("embedding backward", gw, [&]<typename T>(auto exec) {
        embedding_backward<T, I>(exec, gc.data<T>(), idx.data<I>(), gw.data<T>(), n, V, D);
      });
    });
    return Grads{gw};
  });
  return out;
}

}  // namespace ff
