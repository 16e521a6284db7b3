#pragma once
// Fused attention (softmax or Fourier score) as a differentiable op over the kernels in
// kernels/attention.h: O(N) extra memory, the (Nq, Nk) matrix is never stored unless asked.
//
//   q: (B, H, Nq, D)   k, v: (B, H, Nk, D)   ->   out: (B, H, Nq, D)
//
// Inputs may be any views whose last dim has stride 1 (a (B, N, H, D) projection permuted to
// (B, H, N, D) costs no copy). The output is a (B, H, Nq, D) view of a (B, Nq, H, D) buffer,
// so permuting it back and merging heads is free.

#include "core/tensor/tensor.h"
#include "kernels/attention.h"

namespace ff {

struct AttentionOptions {
  kernels::AttentionScore score = kernels::AttentionScore::Dot;
  bool causal = false;  // query i sees keys j <= i + (Nk - Nq)
  double scale = 0.0;   // dot score; 0 means 1/sqrt(D)
  // Fourier score: R is a (1) or (D) tensor (a learnable parameter), p an even power,
  // eps the reference's denominator term (an extra key of score log(eps) and value 0).
  Tensor R = {};
  int p = 4;
  double eps = 1e-6;
};

// When `probs` is given, it receives the normalised attention maps (B, H, Nq, Nk) (no
// gradient): the paper's head-redundancy metric reads them in evaluation.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options,
                 Tensor* probs = nullptr);

}  // namespace ff
