#pragma once
// Fused optimizer updates: one pass over a parameter reads p, g and the state and writes p and
// the state. Every update reads two device scalars written earlier in the step, so the host
// never has to look at the gradients (kernels/step_control.h):
//   control[0]  the gradient scale (the clip factor; 1 when not clipping)
//   control[1]  1 to apply the update, 0 to leave p and the state as they are (a skipped step)
// and `step`, the number of applied updates including this one (advance_step adds control[1]).
//
// Adam / AdamW, with t = step, bc1 = 1 - beta1^t, bc2 = 1 - beta2^t, g = scale * grad:
//   Adam  (L2):        g <- g + wd * p
//   AdamW (decoupled): p <- p - lr * wd * p
//   m <- beta1 * m + (1 - beta1) * g
//   v <- beta2 * v + (1 - beta2) * g^2
//   p <- p - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
// which is torch.optim.Adam / AdamW (amsgrad=False, maximize=False) term for term. The bias
// corrections 1/bc1 and 1/sqrt(bc2) are computed once per step in f64 (adam_advance).
//
// SGD, as torch.optim.SGD, with g = scale * grad + wd * p:
//   momentum != 0:  b <- g (t = 1), b <- momentum * b + (1 - dampening) * g (t > 1);
//                   g <- nesterov ? g + momentum * b : b
//   p <- p - lr * g
//
// p, g and the state: (n,) contiguous, one dtype (f32 master weights under mixed precision).

#include <cmath>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/dtype.h"
#include "kernels/exec.h"

namespace ff::kernels {

inline constexpr KernelDTypes kOptimizerDTypes{.cpu = {DType::F32, DType::F64}, .cuda = {DType::F32}};

template <typename T>
struct AdamHyper {
  T lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW
};

// One element; correction = {1 / bc1, 1 / sqrt(bc2)}.
template <typename T>
FF_HD void adam_element(T& p, T g, T& m, T& v, const AdamHyper<T>& h, T correction1, T correction2) {
  using std::sqrt;
  if (h.decoupled) {
    p -= h.lr * h.weight_decay * p;
  } else {
    g += h.weight_decay * p;
  }
  m = h.beta1 * m + (T(1) - h.beta1) * g;
  v = h.beta2 * v + (T(1) - h.beta2) * g * g;
  const T denom = sqrt(v) * correction2 + h.eps;
  p -= h.lr * correction1 * m / denom;
}

template <typename T>
struct SgdHyper {
  T lr, momentum, dampening, weight_decay;
  bool nesterov;
};

template <typename T>
FF_HD void sgd_element(T& p, T g, T* buf, const SgdHyper<T>& h, bool first) {
  g += h.weight_decay * p;
  if (buf) {
    *buf = first ? g : h.momentum * *buf + (T(1) - h.dampening) * g;
    g = h.nesterov ? g + h.momentum * *buf : *buf;
  }
  p -= h.lr * g;
}

namespace cpu {
// step[0] += control[1].
void advance_step(Exec, double* step, const float* control);
// advance_step, then correction = {1 / (1 - beta1^step), 1 / sqrt(1 - beta2^step)}.
void adam_advance(Exec, double* step, double* correction, const float* control, double beta1, double beta2);
template <typename T>
void adam(Exec, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n, const AdamHyper<T>& hyper,
          const float* control, const double* correction);
// momentum_buffer: null without momentum.
template <typename T>
void sgd(Exec, T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdHyper<T>& hyper, const float* control,
         const double* step);
}  // namespace cpu

#ifdef FF_WITH_CUDA
namespace cuda {
void advance_step(Exec, double* step, const float* control);
void adam_advance(Exec, double* step, double* correction, const float* control, double beta1, double beta2);
template <typename T>
void adam(Exec, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n, const AdamHyper<T>& hyper,
          const float* control, const double* correction);
template <typename T>
void sgd(Exec, T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdHyper<T>& hyper, const float* control,
         const double* step);
}  // namespace cuda
#endif

}  // namespace ff::kernels
