#pragma once
// y = act(x w^T + b).  x: (..., in), weight: (out, in), bias: (out) -> y: (..., out)
// Default init as torch.nn.Linear (kaiming_uniform with a = sqrt(5)): weight and bias uniform in
// [-1/sqrt(in), 1/sqrt(in)). Models re-initialise as their papers do.

#include "core/nn/layer.h"
#include "core/ops/linalg.h"
#include "core/random/generator.h"

namespace ff::nn {

class Linear : public UnaryModule {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true, DType dtype = DType::F32);
  Tensor forward(const Tensor& x) override;

  int64_t in_features, out_features;
  Tensor weight;  // (out, in)
  Tensor bias;    // (out), or undefined without bias
  // Fused into the GEMM (core/ops/linalg.h): Linear followed by ReLU in one op.
  Activation activation = Activation::None;
};

}  // namespace ff::nn
