#include "core/ops/flt_attention.h"

#include <cmath>

#include "core/autograd/autograd.h"
#include "core/ops/elementwise.h"
#include "core/ops/linalg.h"
#include "core/ops/reduce.h"
#include "core/ops/softmax.h"
#include "core/ops/view.h"

namespace ff {

Tensor positive_random_features(const Tensor& x, const Tensor& W) {
  FF_CHECK(W.dim() == 2 && x.size(-1) == W.size(1),
           "positive_random_features needs x (..., D) and W (m, D), got {} and {}", x.str(), W.str());
  const Tensor half_norm = mul(sum(square(x), {-1}, /*keepdim=*/true), 0.5);  // (..., 1)
  return mul(exp(sub(matmul(x, transpose(W, 0, 1)), half_norm)), 1.0 / std::sqrt(double(W.size(0))));
}

Tensor spectral_mixture_weights(const SpectralMixture& g, const Tensor& freqs) {
  FF_CHECK(g.logits.dim() == 2 && g.means.dim() == 3 && g.log_scales.dim() == 2 && freqs.dim() == 2 &&
               g.means.size(0) == g.logits.size(0) && g.means.size(1) == g.logits.size(1) &&
               g.log_scales.size(0) == g.logits.size(0) && g.log_scales.size(1) == g.logits.size(1) &&
               g.means.size(2) == freqs.size(1),
           "spectral mixture: logits {}, means {}, log_scales {} must be (H, K), (H, K, d), (H, K) with freqs (s, d), "
           "got freqs {}",
           g.logits.str(), g.means.str(), g.log_scales.str(), freqs.str());
  const int64_t d = freqs.size(1), s = freqs.size(0);
  // a_k = log(pi_k N(w; mu_k, sigma_k^2 I)) and log p(w) = log N(w; 0, I), both without the
  // (2 pi)^(-d/2) they share:
  //   a_k = log pi_k - d log sigma_k - |w - mu_k|^2 / (2 sigma_k^2)      (H, K, s)
  //   log p = -|w|^2 / 2                                               (1, s)
  const Tensor diff = sub(unsqueeze(unsqueeze(freqs, 0), 0), unsqueeze(g.means, 2));  // (H, K, s, d)
  const Tensor inv_var = unsqueeze(exp(mul(g.log_scales, -2.0)), 2);                  // (H, K, 1)
  const Tensor log_pi = unsqueeze(log_softmax(g.logits, 1), 2);                       // (H, K, 1)
  const Tensor a =
      sub(sub(log_pi, mul(unsqueeze(g.log_scales, 2), double(d))), mul(mul(sum(square(diff), {3}), inv_var), 0.5));
  // log sum_k exp(a_k), shifted by the largest term (a constant for the gradient).
  Tensor shift;
  {
    NoGradGuard no_grad;
    shift = select(a, 1, 0);
    for (int64_t k = 1; k < a.size(1); ++k) shift = maximum(shift, select(a, 1, k));
  }
  const Tensor log_g = add(log(sum(exp(sub(a, unsqueeze(shift, 1))), {1})), shift);  // (H, s)
  const Tensor log_p = mul(unsqueeze(sum(square(freqs), {1}), 0), -0.5);             // (1, s)
  // c = sqrt(g / (s p)) = exp((log g - log p - log s) / 2)
  return exp(mul(add(sub(log_g, log_p), -std::log(double(s))), 0.5));
}

Tensor spectral_position_features(const Tensor& positions, const Tensor& freqs, const Tensor& weights) {
  FF_CHECK(positions.dim() == 2 && freqs.dim() == 2 && positions.size(1) == freqs.size(1) && weights.dim() == 2 &&
               weights.size(1) == freqs.size(0),
           "spectral position features need positions (N, d), freqs (s, d) and weights (H, s), got {}, {}, {}",
           positions.str(), freqs.str(), weights.str());
  const int64_t s = freqs.size(0);
  // fourier_features divides by sqrt(s); the weights carry the 1/sqrt(s) of the estimate.
  const Tensor trig =
      mul(fourier_features(matmul(positions, transpose(freqs, 0, 1))), std::sqrt(double(s)));  // (N, 2s)
  return mul(unsqueeze(trig, 0), unsqueeze(concat({weights, weights}, 1), 1));                 // (H, N, 2s)
}

namespace {

// phi (B, H, N, m), P (H, N, 2s) -> (B, H, N, m * 2s): the row-wise Kronecker product.
Tensor kronecker_rows(const Tensor& phi, const Tensor& P) {
  const int64_t B = phi.size(0), H = phi.size(1), N = phi.size(2), m = phi.size(3), t = P.size(2);
  return reshape(mul(unsqueeze(phi, 4), unsqueeze(unsqueeze(P, 0), 3)), {B, H, N, m * t});
}

}  // namespace

Tensor flt_attention(const Tensor& q, const Tensor& k, const Tensor& v, const FltAttentionInputs& in,
                     const LinearAttentionOptions& options) {
  FF_CHECK(q.dim() == 4 && k.dim() == 4 && in.feature_freqs.dim() == 2 && in.feature_freqs.size(1) == q.size(3),
           "flt_attention needs q (B, H, N, D) and feature freqs (m, D), got {} and {}", q.str(),
           in.feature_freqs.str());
  FF_CHECK(in.q_positions.dim() == 2 && in.k_positions.dim() == 2 && in.q_positions.size(0) == q.size(2) &&
               in.k_positions.size(0) == k.size(2) && in.mixture.logits.defined() &&
               in.mixture.logits.size(0) == q.size(1),
           "flt_attention: q {} and k {} need positions (Nq, d), (Nk, d) and a mixture per head, got {}, {} and {}",
           q.str(), k.str(), in.q_positions.str(), in.k_positions.str(),
           in.mixture.logits.defined() ? in.mixture.logits.str() : "none");
  const double scale = std::pow(double(q.size(3)), -0.25);
  const Tensor c = spectral_mixture_weights(in.mixture, in.position_freqs);  // (H, s)
  const Tensor phi_q = kronecker_rows(positive_random_features(mul(q, scale), in.feature_freqs),
                                      spectral_position_features(in.q_positions, in.position_freqs, c));
  const Tensor phi_k = kronecker_rows(positive_random_features(mul(k, scale), in.feature_freqs),
                                      spectral_position_features(in.k_positions, in.position_freqs, c));
  return linear_attention(phi_q, phi_k, v, options);
}

}  // namespace ff
