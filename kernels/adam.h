#pragma once
// The fused Adam / AdamW update: one pass over a parameter reads p, g, m, v and writes p, m, v.
//   p, g, exp_avg (m), exp_avg_sq (v): (n,) contiguous, same dtype.
//
// With t the step count (1 for the first update), bc1 = 1 - beta1^t, bc2 = 1 - beta2^t:
//   Adam  (L2):        g <- g + wd * p
//   AdamW (decoupled): p <- p - lr * wd * p
//   m <- beta1 * m + (1 - beta1) * g
//   v <- beta2 * v + (1 - beta2) * g^2
//   p <- p - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
// which is torch.optim.Adam / AdamW (amsgrad=False, maximize=False) term for term.

#include <cmath>
#include <cstdint>

#include "kernels/common.h"

#ifdef FF_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace ff::kernels {

// Per-step constants, computed on the host in double (adam_hyper) and rounded to T once, so
// the CPU loop and the CUDA kernel see the same values.
template <typename T>
struct AdamHyper {
  T lr;
  T beta1, beta2;
  T eps;
  T weight_decay;
  T step_size;         // lr / bc1
  T inv_sqrt_bc2;      // 1 / sqrt(bc2)
  bool decoupled;      // AdamW
};

template <typename T>
AdamHyper<T> adam_hyper(double lr, double beta1, double beta2, double eps, double weight_decay,
                        int64_t step, bool decoupled) {
  FF_CHECK(step >= 1, "Adam step count starts at 1, got {}", step);
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  return {T(lr), T(beta1), T(beta2), T(eps), T(weight_decay), T(lr / bc1), T(1.0 / std::sqrt(bc2)), decoupled};
}

// The update of one element (the math both devices run).
template <typename T>
FF_HD void adam_element(T& p, T g, T& m, T& v, const AdamHyper<T>& h) {
  using std::sqrt;
  if (h.decoupled) {
    p -= h.lr * h.weight_decay * p;
  } else {
    g += h.weight_decay * p;
  }
  m = h.beta1 * m + (T(1) - h.beta1) * g;
  v = h.beta2 * v + (T(1) - h.beta2) * g * g;
  const T denom = sqrt(v) * h.inv_sqrt_bc2 + h.eps;
  p -= h.step_size * m / denom;
}

namespace cpu {
// T: float or double.
template <typename T>
void adam(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n, const AdamHyper<T>& hyper);
}  // namespace cpu

#ifdef FF_WITH_CUDA
namespace cuda {
void adam(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
          const AdamHyper<float>& hyper, cudaStream_t stream);
}  // namespace cuda
#endif

}  // namespace ff::kernels
