#pragma once
// The autocast rules (core/autograd/autograd.h, AutocastGuard), as ops apply them to their
// floating inputs on entry. Casts are differentiable (to_dtype), so gradients return in the
// inputs' dtypes: an f32 weight used in a bf16 GEMM gets an f32 gradient.

#include <utility>
#include <vector>

#include "core/tensor/tensor.h"

namespace ff {

// GEMM-like ops (matmul, linear, attention): an f32 input is cast to the autocast dtype. f64
// inputs (gradient checks) and everything outside autocast are left alone.
Tensor autocast_low(const Tensor& x);
// Precision-sensitive ops (softmax, log_softmax, layer_norm, losses, sums): under autocast, a
// bf16 input is cast to f32.
Tensor autocast_f32(const Tensor& x);

// Binary ops on two floating dtypes compute in the wider one (bf16 < f32 < f64), as numpy and
// PyTorch promote; the narrower operand is cast.
std::pair<Tensor, Tensor> promote(const Tensor& a, const Tensor& b);
// The same over several tensors (concat of a bf16 GEMM result and an f32 parameter).
std::vector<Tensor> promote(const std::vector<Tensor>& xs);

}  // namespace ff
