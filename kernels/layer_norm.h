#pragma once
// Layer normalisation over the last dimension of a contiguous (rows, D) array:
//   mean_r = sum_j x_rj / D,  rstd_r = 1 / sqrt(sum_j (x_rj - mean_r)^2 / D + eps)
//   xhat_rj = (x_rj - mean_r) * rstd_r,  y_rj = xhat_rj * w_j + b_j
// and the backward, with gw_rj = g_rj * w_j (g_rj without weight):
//   dx_rj = rstd_r * (gw_rj - mean_j(gw_rj) - xhat_rj * mean_j(gw_rj * xhat_rj))
//   dw_j = sum_r g_rj * xhat_rj,  db_j = sum_r g_rj
// weight and bias may be null (no affine part). mean and rstd are saved per row by the
// forward for the backward. CPU: f32 and f64 (accumulation in double); CUDA: f32 with f32
// statistics (two passes over the row: mean, then the centred variance). bf16 tensors are
// computed in f32 by the op.

#include <cstdint>

#include "kernels/common.h"
#include "kernels/dtype.h"
#include "kernels/exec.h"

namespace ff::kernels {

// The per-element parts, shared by CPU and CUDA.
template <typename A>
FF_HD A layer_norm_xhat(A x, A mean, A rstd) {
  return (x - mean) * rstd;
}
// dx from gw = g * w, xhat, and the row means mean_gw = mean(gw), mean_gwx = mean(gw * xhat).
template <typename A>
FF_HD A layer_norm_dx(A gw, A xhat, A rstd, A mean_gw, A mean_gwx) {
  return rstd * (gw - mean_gw - xhat * mean_gwx);
}

inline constexpr KernelDTypes kLayerNormDTypes{.cpu = {DType::F32, DType::F64}, .cuda = {DType::F32}};

namespace cpu {
// x: (rows, D), weight/bias: (D) or null -> y: (rows, D), mean/rstd: (rows).
template <typename T>
void layer_norm_forward(Exec, const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd, int64_t rows,
                        int64_t D, double eps);
// Floats of scratch memory layer_norm_backward needs for dweight/dbias: none on the CPU.
inline int64_t layer_norm_backward_workspace(Exec, int64_t rows, int64_t D) { return 0; }
// x, g: (rows, D), weight: (D) or null, mean/rstd: (rows) -> dx: (rows, D), dweight/dbias: (D).
// Any output may be null (not needed). workspace: layer_norm_backward_workspace floats.
template <typename T>
void layer_norm_backward(Exec, const T* x, const T* weight, const T* mean, const T* rstd, const T* g, T* dx,
                         T* dweight, T* dbias, int64_t rows, int64_t D, float* workspace);
}  // namespace cpu

#ifdef FF_WITH_CUDA
namespace cuda {
template <typename T>
void layer_norm_forward(Exec, const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd, int64_t rows,
                        int64_t D, double eps);
// dweight/dbias are summed over row chunks in a fixed order (deterministic): 2 * chunks * D floats.
int64_t layer_norm_backward_workspace(Exec, int64_t rows, int64_t D);
template <typename T>
void layer_norm_backward(Exec, const T* x, const T* weight, const T* mean, const T* rstd, const T* g, T* dx,
                         T* dweight, T* dbias, int64_t rows, int64_t D, float* workspace);
}  // namespace cuda
#endif

}  // namespace ff::kernels
