#pragma once
// The ViT patch embedding's convolution: kernel = stride = patch, no padding (core/ops/conv.h).
//   x: (B, C, H, W) -> (B, E, H / P, W / P);  weight: (E, C, P, P), bias: (E)
// Initialised as torch.nn.Conv2d: weight and bias uniform in [-1/sqrt(C P P), 1/sqrt(C P P)).

#include "core/nn/layer.h"
#include "core/random/generator.h"

namespace ff::nn {

class Conv2dPatch : public UnaryModule {
 public:
  Conv2dPatch(int64_t in_channels, int64_t out_channels, int64_t patch, Generator& gen, bool bias = true,
              DType dtype = DType::F32);
  Tensor forward(const Tensor& x) override;

  int64_t in_channels, out_channels, patch;
  Tensor weight;  // (E, C, P, P)
  Tensor bias;    // (E), or undefined without bias
};

}  // namespace ff::nn
