#pragma once
// Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_:
//   norm = sqrt(sum over parameters of sum(g^2))
//   if norm > max_norm: every g <- g * max_norm / (norm + 1e-6)
// Parameters without a gradient are ignored; every parameter's gradient counts in the norm,
// and gradients that share storage are scaled once.
//
// grad_norm() stays on the device (the trainer hands it to kernels/step_control.h, whose clip
// factor the optimizer kernels apply); clip_grad_norm_() reads the norm on the host and scales
// the gradients itself, for code outside the trainer.

#include <vector>

#include "core/tensor/tensor.h"

namespace ff::optim {

// () on the gradients' device, in their dtype; undefined when no parameter has a gradient.
Tensor grad_norm(const std::vector<Tensor>& params);

// Returns the norm before clipping. max_norm > 0 (infinity: measure only). A non-finite norm is
// returned as is and nothing is scaled, so the caller can skip the step.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm);

}  // namespace ff::optim
