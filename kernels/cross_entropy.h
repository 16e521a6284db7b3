#pragma once
// Fused cross-entropy over logits x: (N, C), per row, with label smoothing eps (as PyTorch):
//   lse_i = log sum_j exp(x_ij)
//   hard target t_i:  loss_i = lse_i - ((1 - eps) x_it + eps mean_j x_ij)
//   soft target q_i:  q'_ij = (1 - eps) q_ij + eps / C,  loss_i = lse_i sum_j q'_ij - sum_j q'_ij x_ij
// Rows whose hard target equals ignore_index get loss 0 and valid 0 (else valid 1), so a mean
// reduction divides by sum(valid). The forward saves only lse (N) for the backward:
//   dx_ij = s_i (m_i exp(x_ij - lse_i) - q'_ij),  m_i = sum_j q'_ij (1 for hard targets)
// where s_i = grad[i * grad_stride] is the upstream gradient of row i (grad_stride 0 for one
// scalar shared by all rows: the sum / mean reductions).
//
// nll over log-probabilities lp: (N, C): loss_i = -lp_it (0 for ignored rows), backward
// dlp_ij = -s_i [j == t_i].
//
// Targets are int32 or int64 class ids (I). CPU: f32 and f64 (statistics in double); an id
// outside [0, C) other than ignore_index throws ff::Error naming the id and C. CUDA: f32;
// such an id gives a NaN loss and gradient row (checking it would cost a host sync).

#include <cmath>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/dtype.h"
#include "kernels/exec.h"

namespace ff::kernels {

// Probability the smoothed target distribution gives class j: q = 1 or 0 for hard targets.
template <typename A>
FF_HD A smoothed_target(A q, A eps, int64_t C) {
  return (A(1) - eps) * q + eps / A(C);
}
// Hard-target loss from the row's lse, target logit and sum of logits. Without smoothing the
// sum is not used (a -inf logit elsewhere in the row must not make 0 * -inf = NaN).
template <typename A>
FF_HD A hard_cross_entropy(A lse, A x_target, A sum_x, A eps, int64_t C) {
  const A smoothing = eps != A(0) ? eps * sum_x / A(C) : A(0);
  return lse - ((A(1) - eps) * x_target + smoothing);
}
template <typename A>
FF_HD A cross_entropy_grad(A x, A lse, A q_smoothed, A mass, A scale) {
  using std::exp;
  return scale * (mass * exp(x - lse) - q_smoothed);
}

// bf16 tensors are computed in f32 by the op.
inline constexpr KernelDTypes kCrossEntropyDTypes{.cpu = {DType::F32, DType::F64}, .cuda = {DType::F32}};

namespace cpu {
template <typename T, typename I>
void cross_entropy_forward(Exec, const T* x, const I* target, T* loss, T* lse, T* valid, int64_t N, int64_t C,
                           int64_t ignore_index, double eps);
template <typename T>
void soft_cross_entropy_forward(Exec, const T* x, const T* target, T* loss, T* lse, int64_t N, int64_t C,
                                double eps);
template <typename T, typename I>
void cross_entropy_backward(Exec, const T* x, const I* target, const T* lse, const T* grad, int64_t grad_stride,
                            T* dx, int64_t N, int64_t C, int64_t ignore_index, double eps);
template <typename T>
void soft_cross_entropy_backward(Exec, const T* x, const T* target, const T* lse, const T* grad,
                                 int64_t grad_stride, T* dx, int64_t N, int64_t C, double eps);
template <typename T, typename I>
void nll_forward(Exec, const T* lp, const I* target, T* loss, T* valid, int64_t N, int64_t C, int64_t ignore_index);
template <typename T, typename I>
void nll_backward(Exec, const I* target, const T* grad, int64_t grad_stride, T* dlp, int64_t N, int64_t C,
                  int64_t ignore_index);
}  // namespace cpu

#ifdef FF_WITH_CUDA
namespace cuda {
template <typename T, typename I>
void cross_entropy_forward(Exec, const T* x, const I* target, T* loss, T* lse, T* valid, int64_t N, int64_t C,
                           int64_t ignore_index, double eps);
template <typename T>
void soft_cross_entropy_forward(Exec, const T* x, const T* target, T* loss, T* lse, int64_t N, int64_t C,
                                double eps);
template <typename T, typename I>
void cross_entropy_backward(Exec, const T* x, const I* target, const T* lse, const T* grad, int64_t grad_stride,
                            T* dx, int64_t N, int64_t C, int64_t ignore_index, double eps);
template <typename T>
void soft_cross_entropy_backward(Exec, const T* x, const T* target, const T* lse, const T* grad,
                                 int64_t grad_stride, T* dx, int64_t N, int64_t C, double eps);
template <typename T, typename I>
void nll_forward(Exec, const T* lp, const I* target, T* loss, T* valid, int64_t N, int64_t C, int64_t ignore_index);
template <typename T, typename I>
void nll_backward(Exec, const I* target, const T* grad, int64_t grad_stride, T* dlp, int64_t N, int64_t C,
                  int64_t ignore_index);
}  // namespace cuda
#endif

}  // namespace ff::kernels
