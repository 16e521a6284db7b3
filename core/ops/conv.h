#pragma once
// Convolutions. Only the ViT patch embedding: non-overlapping square patches.

#include "core/tensor/tensor.h"

namespace ff {

// x (B, C, H, W), w (E, C, P, P), b (E) or undefined -> (B, E, H/P, W/P): a convolution with
// kernel size == stride == patch and no padding. H and W must be multiples of P. On CUDA, cuDNN
// (kernels/conv.h: forward, backward data, filter and bias); on the CPU, im2col (a permuting
// copy of x to (B*H/P*W/P, C*P*P), exact since patches do not overlap) followed by linear().
// GEMM-like under autocast. Differentiable in x, w and b.
Tensor conv2d_patch(const Tensor& x, const Tensor& w, const Tensor& b, int64_t patch);

}  // namespace ff
