#include "kernels/gemm.h"

#include <cblas.h>

#include <climits>

#include "kernels/common.h"

namespace ff::kernels::cpu {
namespace {

void check_sizes(const auto& p) {
  for (int64_t v : {p.M, p.N, p.K, p.lda, p.ldb, p.ldc})
    FF_CHECK(v >= 0 && v <= INT_MAX, "gemm: size {} exceeds the BLAS int range (M={}, N={}, K={})", v, p.M, p.N,
             p.K);
}

CBLAS_TRANSPOSE op(bool trans) { return trans ? CblasTrans : CblasNoTrans; }

void call(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
          float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, op(ta), op(tb), M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void call(bool ta, bool tb, int M, int N, int K, double alpha, const double* A, int lda, const double* B, int ldb,
          double beta, double* C, int ldc) {
  cblas_dgemm(CblasRowMajor, op(ta), op(tb), M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

template <typename T>
void gemm(Exec, const GemmParams<T>& p) {
  if (p.M == 0 || p.N == 0 || p.batch == 0) return;
  check_sizes(p);
  // OpenBLAS 0.3.21 has no cblas_?gemm_batch; each call is multithreaded inside.
  for (int64_t i = 0; i < p.batch; ++i) {
    T* C = p.C + i * p.stride_c;
    auto add_bias = [&](bool assign) {
      for (int64_t r = 0; r < p.M; ++r)
        for (int64_t c = 0; c < p.N; ++c) C[r * p.ldc + c] = (assign ? T(0) : C[r * p.ldc + c]) + p.bias[c];
    };
    // With beta == 0 the bias is C's starting value and the product accumulates onto it.
    const bool bias_first = p.bias && p.beta == T(0);
    if (bias_first) add_bias(true);
    call(p.trans_a, p.trans_b, int(p.M), int(p.N), int(p.K), p.alpha, p.A + i * p.stride_a, int(p.lda),
         p.B + i * p.stride_b, int(p.ldb), bias_first ? T(1) : p.beta, C, int(p.ldc));
    if (p.bias && !bias_first) add_bias(false);
    if (p.relu)
      for (int64_t r = 0; r < p.M; ++r)
        for (int64_t c = 0; c < p.N; ++c) C[r * p.ldc + c] = C[r * p.ldc + c] > T(0) ? C[r * p.ldc + c] : T(0);
  }
}

template void gemm<float>(Exec, const GemmParams<float>&);
template void gemm<double>(Exec, const GemmParams<double>&);

}  // namespace ff::kernels::cpu
