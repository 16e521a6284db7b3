#pragma once
// Embedding lookup. Differentiable in weight; f32 and f64 weights, int32 or int64 ids.

#include "core/tensor/tensor.h"

namespace ff {

// weight (V, D), ids (any shape, int32 or int64) -> (ids..., D): row ids[...] of weight.
// An id outside [0, V) is an ff::Error naming the id and V on the CPU; the CUDA kernel does not
// check (see docs/ops.md). Backward scatter-adds into a dense (V, D) gradient (deterministic on
// the CPU, atomicAdd on CUDA).
Tensor embedding(const Tensor& weight, const Tensor& ids);

}  // namespace ff
