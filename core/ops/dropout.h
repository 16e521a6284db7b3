#pragma once
// Stochastic regularisers. Both draw their mask from the Philox stream with gen.next() (one
// state per call), so CPU and CUDA give the same mask for the same generator state.

#include "core/random/generator.h"
#include "core/tensor/tensor.h"

namespace ff {

// x: (...) -> (...). In training with p > 0: y = x * mask, mask = 1 / (1 - p) with
// probability 1 - p, else 0 (the backward multiplies by the same saved mask). p = 0 or
// eval: returns x itself (nothing recorded, no state drawn).
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

// Stochastic depth (timm's drop_path): x: (B, ...) -> (B, ...); each sample b is kept whole
// with probability 1 - p (then scaled by 1 / (1 - p)) or zeroed. Same no-op cases as dropout.
Tensor drop_path(const Tensor& x, double p, bool training, Generator& gen);

}  // namespace ff
