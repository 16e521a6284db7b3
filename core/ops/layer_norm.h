#pragma once
// Layer normalisation over the last dimension.
//   x: (..., D), weight: (D) or undefined, bias: (D) or undefined -> y: (..., D)
// y = (x - mean) / sqrt(var + eps) * weight + bias with the biased variance. The forward saves
// the per-row mean and 1/std (in x's dtype) for the backward.

#include "core/tensor/tensor.h"

namespace ff {

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

}  // namespace ff
