#pragma once
// The ViT patch embedding as a convolution on raw pointers: kernel = stride = P, no padding.
//
//   x: (B, C, H, W)   w: (E, C, P, P)   b: (E) or null   ->   y: (B, E, H / P, W / P)
//   all contiguous (NCHW); H and W multiples of P.
//
// CUDA only, on cuDNN (forward, backward data, backward filter, backward bias). The CPU has no
// launcher: there the op is im2col + one GEMM (core/ops/conv.cpp), which is exact for
// non-overlapping patches, so the two backends are tested against each other.

#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/exec.h"

namespace ff::kernels {

inline constexpr KernelDTypes kConvPatchDTypes{.cpu = {}, .cuda = {DType::F32, DType::F64, DType::BF16}};

template <typename T>
struct ConvPatchParams {
  int64_t B = 0, C = 0, H = 0, W = 0, E = 0, P = 0;
  const T* x = nullptr;  // (B, C, H, W)
  const T* w = nullptr;  // (E, C, P, P)
  const T* b = nullptr;  // (E) or null
  T* y = nullptr;        // (B, E, H/P, W/P): written by the forward
  // Backward: dy in, the requested gradients out (null when not needed); written, not added.
  const T* dy = nullptr;
  T* dx = nullptr;
  T* dw = nullptr;
  T* db = nullptr;
};

#ifdef FF_WITH_CUDA
namespace cuda {
template <typename T>
void conv2d_patch_forward(Exec, const ConvPatchParams<T>& p);
template <typename T>
void conv2d_patch_backward(Exec, const ConvPatchParams<T>& p);
}  // namespace cuda
#endif

}  // namespace ff::kernels
