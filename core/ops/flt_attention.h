#pragma once
// FourierLearner-Transformer (FLT) attention (Choromanski, Li et al., "Learning a Fourier
// Transform for Linear Relative Positional Encodings in Transformers", arXiv:2302.01925;
// docs/kernels.md, "FourierLearner attention"), composed from differentiable ops over
// linear_attention: linear time and memory in N.
//
//   out_i = sum_j M_ij A_ij v_j / safe(sum_j M_ij A_ij + eps)       (j < L_i when causal)
//
// A_ij = phi(q_i) . phi(k_j) estimates the softmax kernel exp(q_i . k_j / sqrt(D)) with positive
// random features; M_ij estimates a relative-position mask f(pos_i - pos_j), the Fourier transform
// of a learned spectral density g (a Gaussian mixture, one per head):
//
//   g(w)  = sum_k pi_k N(w; mu_k, sigma_k^2 I_d),   pi = softmax(logits)
//   f(r)  = sum_k pi_k exp(-|r|^2 sigma_k^2 / 2) cos(mu_k . r)  = E_{w~p}[g(w)/p(w) cos(w . r)]
//   M_ij  = sum_l c_l^2 cos(w_l . (pos_i - pos_j)),   c_l = sqrt(g(w_l) / (s p(w_l)))
//
// with s frequencies w_l from the fixed proposal p = N(0, I_d). Both estimates are inner products
// of features, so M ⊙ A = (phi(Q) ⊗ P)(phi(K) ⊗ P)^T, P_i = [c_l cos(w_l . pos_i), c_l sin(...)]:
// the row-wise Kronecker product of the two feature maps is the feature map of linear attention.
// Gradients reach q, k, v and the mixture's logits, means and log-scales.

#include "core/ops/linear_attention.h"
#include "core/random/generator.h"
#include "core/tensor/tensor.h"

namespace ff {

// The learned spectral density, one mixture of K isotropic Gaussians per head, over d-dimensional
// frequencies (d = 1 for sequences, 2 for image patches).
struct SpectralMixture {
  Tensor logits;      // (H, K): pi = softmax(logits)
  Tensor means;       // (H, K, d): mu
  Tensor log_scales;  // (H, K): log sigma
};

// x (..., D), W (m, D) -> (..., m) = exp(x W^T - |x|^2 / 2) / sqrt(m): positive random features,
// E[phi(x) . phi(y)] = exp(x . y) when the rows of W are N(0, I_D) (Performer's FAVOR+).
Tensor positive_random_features(const Tensor& x, const Tensor& W);

// freqs (s, d) -> c (H, s) = sqrt(g(w_l) / (s p(w_l))), computed in the log domain.
Tensor spectral_mixture_weights(const SpectralMixture& g, const Tensor& freqs);

// positions (N, d), freqs (s, d), weights c (H, s) -> (H, N, 2s) = [c cos(pos w^T), c sin(pos w^T)].
// P_i . P_j = sum_l c_l^2 cos(w_l . (pos_i - pos_j)) = M_ij.
Tensor spectral_position_features(const Tensor& positions, const Tensor& freqs, const Tensor& weights);

struct FltAttentionInputs {
  Tensor feature_freqs;   // (m, D): the rows of W for phi, N(0, I_D) (no gradient)
  Tensor position_freqs;  // (s, d): the w_l, N(0, I_d) (no gradient)
  Tensor q_positions;     // (Nq, d)
  Tensor k_positions;     // (Nk, d)
  SpectralMixture mixture;
};

// q (B, H, Nq, D), k, v (B, H, Nk, D) -> (B, H, Nq, D). phi is applied to q / D^(1/4) and
// k / D^(1/4), so A_ij estimates exp(q_i . k_j / sqrt(D)); the features have m * 2s columns.
Tensor flt_attention(const Tensor& q, const Tensor& k, const Tensor& v, const FltAttentionInputs& inputs,
                     const LinearAttentionOptions& options);

// The frequencies of the base features and of the mask are gaussian_frequencies
// (core/ops/linear_attention.h): N(0, 1) draws of a Philox stream.

}  // namespace ff
