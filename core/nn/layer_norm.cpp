#include "core/nn/layer_norm.h"

#include "core/ops/layer_norm.h"

namespace ff::nn {

LayerNorm::LayerNorm(int64_t dim, double eps, bool affine, DType dtype) : dim(dim), eps(eps) {
  FF_CHECK(dim > 0, "LayerNorm({}) needs a positive size", dim);
  if (affine) {
    register_parameter("weight", weight = Tensor::ones({dim}, dtype));
    register_parameter("bias", bias = Tensor::zeros({dim}, dtype));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  FF_CHECK(x.dim() >= 1 && x.size(-1) == dim, "LayerNorm({}) got input {}", dim, x.str());
  return layer_norm(x, weight, bias, eps);
}

}  // namespace ff::nn
