#pragma once
// Dense matrix products on raw pointers, row-major throughout:
//
//   C (M x N) = alpha * op(A) (M x K) @ op(B) (K x N) + beta * C
//
// op(A) = A when !trans_a (A stored M x K, row stride lda >= K), else A^T (A stored K x M,
// lda >= M); the same for B (stored K x N with ldb >= N, or N x K with ldb >= K when
// trans_b). C is stored M x N with ldc >= N. When beta == 0, C is not read (may hold NaN).
// Callers handle empty products (M, N or K == 0) before calling.
//
// The strided-batched variants compute `batch` such products, the i-th at
// A + i * stride_a, B + i * stride_b, C + i * stride_c; a stride of 0 reuses one operand
// (broadcast). CPU: OpenBLAS cblas_?gemm (looped over the batch); CUDA: cuBLAS on the stream
// the handle is bound to (the caller passes the handle: kernels do not depend on core).

#include <cstdint>

#ifdef FF_WITH_CUDA
#include <cublas_v2.h>
#endif

namespace ff::kernels {

namespace cpu {
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

template <typename T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                          int64_t lda, int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C,
                          int64_t ldc, int64_t stride_c, int64_t batch);
}  // namespace cpu

#ifdef FF_WITH_CUDA
namespace cuda {
template <typename T>
void gemm(cublasHandle_t handle, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

template <typename T>
void gemm_strided_batched(cublasHandle_t handle, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                          T alpha, const T* A, int64_t lda, int64_t stride_a, const T* B, int64_t ldb,
                          int64_t stride_b, T beta, T* C, int64_t ldc, int64_t stride_c, int64_t batch);
}  // namespace cuda
#endif

}  // namespace ff::kernels
