#pragma once
// Dense matrix products on raw pointers, row-major throughout, `batch` of them at fixed
// strides:
//
//   C_i (M x N) = alpha * op(A_i) (M x K) @ op(B_i) (K x N) + beta * C_i  [+ bias]
//   with A_i = A + i * stride_a, B_i = B + i * stride_b, C_i = C + i * stride_c
//
// op(A) = A when !trans_a (A stored M x K, row stride lda >= K), else A^T (A stored K x M,
// lda >= M); the same for B (stored K x N with ldb >= N, or N x K with ldb >= K when
// trans_b). C is stored M x N with ldc >= N. A stride of 0 reuses one operand (broadcast).
// bias: (N) added to every row of every C_i, or null. relu: C_i = max(C_i, 0) after the bias
// (the epilogue of linear + ReLU). When beta == 0, C is not read (may hold NaN). Callers
// handle empty products (M, N or K == 0) before calling.
//
// CPU: OpenBLAS cblas_?gemm (f32, f64; bf16 is computed in f32 by the op), one thread per
// call: the batch, or C's longer side, is split across OpenMP's threads. CUDA: cuBLASLt on the Exec's stream with its workspace: f32 (TF32 tensor cores when
// Exec::allow_tf32), f64, and bf16 operands with f32 accumulation and scaling; bias and ReLU
// are fused epilogues.

#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/exec.h"

namespace ff::kernels {

inline constexpr KernelDTypes kGemmDTypes{.cpu = {DType::F32, DType::F64},
                                          .cuda = {DType::F32, DType::F64, DType::BF16}};

template <typename T>
struct GemmParams {
  bool trans_a = false, trans_b = false;
  int64_t M = 0, N = 0, K = 0;
  const T* A = nullptr;
  int64_t lda = 0, stride_a = 0;
  const T* B = nullptr;
  int64_t ldb = 0, stride_b = 0;
  T* C = nullptr;
  int64_t ldc = 0, stride_c = 0;
  int64_t batch = 1;
  compute_t<T> alpha = 1, beta = 0;
  const T* bias = nullptr;
  bool relu = false;
};

namespace cpu {
template <typename T>
void gemm(Exec, const GemmParams<T>& p);
}  // namespace cpu

#ifdef FF_WITH_CUDA
namespace cuda {
template <typename T>
void gemm(Exec, const GemmParams<T>& p);
}  // namespace cuda
#endif

}  // namespace ff::kernels
