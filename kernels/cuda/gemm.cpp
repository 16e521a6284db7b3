// Row-major GEMMs on cuBLAS (column-major): C = op(A) op(B) is computed as
// C^T = op(B)^T op(A)^T, i.e. the operands swap places and M and N swap.

#include <algorithm>
#include <climits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/gemm.h"

namespace ff::kernels::cuda {
namespace {

void check_sizes(int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc) {
  for (int64_t v : {M, N, K, lda, ldb, ldc})
    FF_CHECK(v >= 0 && v <= INT_MAX, "gemm: size {} exceeds the cuBLAS int range (M={}, N={}, K={})", v, M, N, K);
}

cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

// At most this many products per strided-batched call (cuBLAS grids cap the batch dim).
constexpr int64_t kMaxBatch = 65535;

void strided(cublasHandle_t h, bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
             int64_t sa, const float* B, int ldb, int64_t sb, float beta, float* C, int ldc, int64_t sc, int batch) {
  FF_CUBLAS_CHECK(cublasSgemmStridedBatched(h, op(tb), op(ta), N, M, K, &alpha, B, ldb, sb, A, lda, sa, &beta, C,
                                            ldc, sc, batch));
}

void strided(cublasHandle_t h, bool ta, bool tb, int M, int N, int K, double alpha, const double* A, int lda,
             int64_t sa, const double* B, int ldb, int64_t sb, double beta, double* C, int ldc, int64_t sc,
             int batch) {
  FF_CUBLAS_CHECK(cublasDgemmStridedBatched(h, op(tb), op(ta), N, M, K, &alpha, B, ldb, sb, A, lda, sa, &beta, C,
                                            ldc, sc, batch));
}

void single(cublasHandle_t h, bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
            const float* B, int ldb, float beta, float* C, int ldc) {
  FF_CUBLAS_CHECK(cublasSgemm(h, op(tb), op(ta), N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
}

void single(cublasHandle_t h, bool ta, bool tb, int M, int N, int K, double alpha, const double* A, int lda,
            const double* B, int ldb, double beta, double* C, int ldc) {
  FF_CUBLAS_CHECK(cublasDgemm(h, op(tb), op(ta), N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
}

}  // namespace

template <typename T>
void gemm(cublasHandle_t handle, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  check_sizes(M, N, K, lda, ldb, ldc);
  single(handle, trans_a, trans_b, int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

template <typename T>
void gemm_strided_batched(cublasHandle_t handle, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                          T alpha, const T* A, int64_t lda, int64_t stride_a, const T* B, int64_t ldb,
                          int64_t stride_b, T beta, T* C, int64_t ldc, int64_t stride_c, int64_t batch) {
  if (M == 0 || N == 0 || batch == 0) return;
  check_sizes(M, N, K, lda, ldb, ldc);
  for (int64_t start = 0; start < batch; start += kMaxBatch) {
    int64_t count = std::min(kMaxBatch, batch - start);
    strided(handle, trans_a, trans_b, int(M), int(N), int(K), alpha, A + start * stride_a, int(lda), stride_a,
            B + start * stride_b, int(ldb), stride_b, beta, C + start * stride_c, int(ldc), stride_c, int(count));
  }
}

#define FF_INSTANTIATE(T)                                                                                          \
  template void gemm<T>(cublasHandle_t, bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,    \
                        int64_t, T, T*, int64_t);                                                                  \
  template void gemm_strided_batched<T>(cublasHandle_t, bool, bool, int64_t, int64_t, int64_t, T, const T*,       \
                                        int64_t, int64_t, const T*, int64_t, int64_t, T, T*, int64_t, int64_t,    \
                                        int64_t);
FF_INSTANTIATE(float)
FF_INSTANTIATE(double)
#undef FF_INSTANTIATE

}  // namespace ff::kernels::cuda
