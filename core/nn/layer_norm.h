#pragma once
// Layer normalisation over the last dim. x: (..., D) -> (..., D); weight, bias: (D), ones and
// zeros at init (absent when affine is false).

#include "core/nn/layer.h"

namespace ff::nn {

class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5, bool affine = true, DType dtype = DType::F32);
  Tensor forward(const Tensor& x) override;

  int64_t dim;
  double eps;
  Tensor weight;  // (D) or undefined
  Tensor bias;    // (D) or undefined
};

}  // namespace ff::nn
