#pragma once
// Classification losses.
//
// cross_entropy(logits, target): logits (N, C); target either class ids (N) int32/int64 or
// a distribution per row (N, C) in the logits' dtype (mixup / cutmix targets). Log-softmax
// is fused in: the op saves only the per-row log-sum-exp and its backward is
// (softmax - target distribution) times the upstream gradient. Label smoothing follows
// PyTorch: the target distribution becomes (1 - eps) q + eps / C.
// Reduction: Mean (over the rows whose id is not ignore_index for id targets, over N for
// distributions), Sum, or None (a (N) tensor, 0 at ignored rows). Output: () or (N).
// Gradients flow to the logits only.
//
// nll_loss(log_probs, target): log_probs (N, C), target (N) ids: -log_probs[i, target_i]
// (for the adaptive softmax, whose log-probabilities are assembled from several heads).
//
// Ids outside [0, C) other than ignore_index throw ff::Error on the CPU (on CUDA they give NaN).

#include <cstdint>

#include "core/tensor/tensor.h"

namespace ff {

enum class Reduction { Mean, Sum, None };

struct CrossEntropyOptions {
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::Mean;
};

struct NllLossOptions {
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::Mean;
};

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& options = {});
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const NllLossOptions& options = {});

}  // namespace ff
