#pragma once
// Random-feature attention (docs/kernels.md, "Random-feature Fourier attention" and "RFA") as
// differentiable ops over kernels/linear_attention.h: linear time and memory in N.
//
//   fourier_features:      theta (..., m) -> (..., 2m) = [cos theta, sin theta] / sqrt(m)
//   linear_attention:      phi_q (B, H, Nq, F), phi_k (B, H, Nk, F), v (B, H, Nk, D)
//                          -> (B, H, Nq, D) contiguous
//   fourier_rf_attention:  q (B, H, Nq, D), k, v (B, H, Nk, D), freqs (m, D), R (1) or (D)
//                          -> (B, H, Nq, D), with phi(x) = fourier_features(x (freqs * R)^T)
//
// E[phi(q) . phi(k)] = E_w[cos(w . (q - k))] = prod_d sinc(R_d (q_d - k_d))^p when the rows of
// freqs are sums of p independent U[-1, 1] draws (sinc_frequencies): the exact Fourier kernel of
// kernels/attention.h, estimated with m frequencies. Gradients reach q, k, v and R.
//
//   rfa_attention:         RFA (Peng et al., "Random Feature Attention", ICLR 2021): the same
//                          features of the unit-norm rows q / |q|, k / |k|, with freqs drawn from
//                          N(0, 1) (gaussian_frequencies). Then E[phi(q^) . phi(k^)] =
//                          exp(-|R (q^ - k^)|^2 / 2), which for a scalar R is
//                          exp(-R^2) exp(R^2 q^ . k^): the normalised weights estimate
//                          softmax(R^2 q^ . k^) (R per dimension: a learned diagonal metric).

#include "core/random/generator.h"
#include "core/tensor/tensor.h"

namespace ff {

struct LinearAttentionOptions {
  bool causal = false;  // query i sees keys j <= i + (Nk - Nq)
  double eps = 1e-6;    // added to the estimated kernel sum, as the exact kernel's eps
  // The estimated sum can be negative or near zero: its magnitude is kept >= floor, its sign
  // kept (kernels/linear_attention_math.h, safe_denominator). Must be > 0.
  double floor = 0.1;
};

Tensor fourier_features(const Tensor& theta);

Tensor linear_attention(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, const LinearAttentionOptions& options);

Tensor fourier_rf_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& freqs, const Tensor& R,
                            const LinearAttentionOptions& options);

Tensor rfa_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& freqs, const Tensor& R,
                     const LinearAttentionOptions& options);

// x / sqrt(sum_d x_d^2 + 1e-12) over the last dim, differentiable.
Tensor unit_rows(const Tensor& x);

// (m, D) standard normal frequencies of the Philox stream at `state` (no gradient): the
// Gaussian kernel's, for rfa_attention.
Tensor gaussian_frequencies(int64_t m, int64_t D, kernels::PhiloxState state, DType dtype = DType::F32,
                            Device device = Device::cpu());

// (m, D) frequencies for the kernel prod_d sinc(R_d x_d)^p: entry (l, d) is the sum of p
// independent U[-1, 1] draws of the Philox stream at `state` (no gradient).
Tensor sinc_frequencies(int64_t m, int64_t D, int p, kernels::PhiloxState state, DType dtype = DType::F32,
                        Device device = Device::cpu());

}  // namespace ff
