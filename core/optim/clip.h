#pragma once
// Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_:
//   norm = sqrt(sum over parameters of sum(g^2))
//   if norm > max_norm: every g <- g * max_norm / (norm + 1e-6)
// The norm is computed on the gradients' device; the one host read is the final scalar. A
// non-finite norm is returned as is and nothing is scaled, so the trainer can skip the step.
// Parameters without a gradient are ignored. Gradients that share storage are scaled once.

#include <vector>

#include "core/tensor/tensor.h"

namespace ff::optim {

// Returns the norm before clipping. max_norm > 0 (infinity: measure only).
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm);

}  // namespace ff::optim
