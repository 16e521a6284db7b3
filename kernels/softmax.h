#pragma once
// Softmax and log-softmax over the last dimension of a contiguous (rows, D) array, forward
// and backward. The per-row statistics are gathered in one pass with an online max/sum
// (OnlineSoftmax below, also used by the cross-entropy kernels), so the exponentials never
// overflow: y = exp(x - m) / s with m = max x and s = sum exp(x - m).
//
// CPU: f32 and f64 (statistics in double). CUDA: f32 (statistics in f32), one warp per row
// for D <= 1024, one 256-thread block per row above. bf16 tensors are computed in f32 by the
// op (core/ops/dispatch.h, computes_in_f32).

#include <cmath>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/dtype.h"
#include "kernels/exec.h"

namespace ff::kernels {

// Running max m and sum s of exp(x - m) over the values seen so far. Merging two partial
// states rescales the one with the smaller max. An empty state is (-inf, 0); -inf entries
// (masked positions) add nothing, NaN entries propagate.
template <typename A>
struct OnlineSoftmax {
  A max;
  A sum;

  FF_HD static OnlineSoftmax empty() { return {-INFINITY, A(0)}; }
  FF_HD void add(A x) {
    using std::exp;
    if (x > max) {
      sum = sum * exp(max - x) + A(1);
      max = x;
    } else if (x != -INFINITY) {  // -inf adds nothing (and -inf - -inf would be NaN)
      sum += exp(x - max);
    }
  }
  FF_HD void merge(OnlineSoftmax other) {
    using std::exp;
    if (other.sum == A(0)) return;
    if (sum == A(0)) {
      *this = other;
      return;
    }
    if (other.max > max) {
      sum = sum * exp(max - other.max) + other.sum;
      max = other.max;
    } else {
      sum += other.sum * exp(other.max - max);
    }
  }
  // log(sum_j exp(x_j)).
  FF_HD A log_sum_exp() const {
    using std::log;
    return max + log(sum);
  }
};

// Gradients given the forward output y and the upstream gradient g of one element, with the
// row reduction r: softmax: r = sum_j g_j y_j; log_softmax: r = sum_j g_j.
template <typename T, typename A>
FF_HD T softmax_grad(T y, T g, A r) {
  return static_cast<T>(A(y) * (A(g) - r));
}
template <typename T, typename A>
FF_HD T log_softmax_grad(T y, T g, A r) {
  using std::exp;
  return static_cast<T>(A(g) - exp(A(y)) * r);
}

inline constexpr KernelDTypes kSoftmaxDTypes{.cpu = {DType::F32, DType::F64}, .cuda = {DType::F32}};

namespace cpu {
// x: (rows, D) -> y: (rows, D); log_softmax when `log`.
template <typename T>
void softmax_forward(Exec, const T* x, T* y, int64_t rows, int64_t D, bool log);
// y: (rows, D) the forward output, g: (rows, D) -> dx: (rows, D).
template <typename T>
void softmax_backward(Exec, const T* y, const T* g, T* dx, int64_t rows, int64_t D, bool log);
}  // namespace cpu

#ifdef FF_WITH_CUDA
namespace cuda {
template <typename T>
void softmax_forward(Exec, const T* x, T* y, int64_t rows, int64_t D, bool log);
template <typename T>
void softmax_backward(Exec, const T* y, const T* g, T* dx, int64_t rows, int64_t D, bool log);
}  // namespace cuda
#endif

}  // namespace ff::kernels
