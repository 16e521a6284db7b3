#include "kernels/gemm.h"

#include <cblas.h>

#include <omp.h>

#include <algorithm>
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

// OpenBLAS computes one piece in the calling thread; the threads are OpenMP's, the same pool
// the other CPU kernels use. OpenBLAS's own pthreads (Debian's build) would otherwise spin in
// sched_yield between calls while OpenMP's threads want the cores: a quarter of the samples of
// a small ViT's step (docs/perf/cpu-train.md).
void blas_single_threaded() {
  static const bool once = (openblas_set_num_threads(1), true);
  (void)once;
}

// Products below this many multiply-adds (M * N * K over the batch) run in one thread, the
// threshold OpenBLAS 0.3.21 itself uses.
constexpr double kParallelMacs = double(1 << 18);

// C is cut in multiples of this many rows or columns (a multiple of OpenBLAS's SGEMM micro-tile).
constexpr int64_t kAlign = 16;

// One piece: rows [r0, r1) and columns [c0, c1) of batch item i.
template <typename T>
void piece(const GemmParams<T>& p, int64_t i, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  const int64_t m = r1 - r0, n = c1 - c0;
  if (m <= 0 || n <= 0) return;
  const T* A = p.A + i * p.stride_a + (p.trans_a ? r0 : r0 * p.lda);
  const T* B = p.B + i * p.stride_b + (p.trans_b ? c0 * p.ldb : c0);
  T* C = p.C + i * p.stride_c + r0 * p.ldc + c0;
  const T* bias = p.bias ? p.bias + c0 : nullptr;
  // With beta == 0 the bias is C's starting value and the product accumulates onto it.
  const bool bias_first = bias && p.beta == T(0);
  if (bias_first)
    for (int64_t r = 0; r < m; ++r) {
      T* __restrict row = C + r * p.ldc;
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) row[c] = bias[c];
    }
  call(p.trans_a, p.trans_b, int(m), int(n), int(p.K), p.alpha, A, int(p.lda), B, int(p.ldb),
       bias_first ? T(1) : p.beta, C, int(p.ldc));
  for (int64_t r = 0; r < m && ((bias && !bias_first) || p.relu); ++r) {
    T* __restrict row = C + r * p.ldc;
    if (bias && !bias_first)
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) row[c] += bias[c];
    if (p.relu)
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) row[c] = row[c] > T(0) ? row[c] : T(0);
  }
}

}  // namespace

// The batch is split across the threads when it divides evenly; otherwise every item is cut
// into one piece per thread along the longer of C's sides (in multiples of 16).
template <typename T>
void gemm(Exec, const GemmParams<T>& p) {
  if (p.M == 0 || p.N == 0 || p.batch == 0) return;
  check_sizes(p);
  blas_single_threaded();
  const double macs = double(p.M) * double(p.N) * double(p.K) * double(p.batch);
  const int threads = omp_in_parallel() || macs < kParallelMacs ? 1 : omp_get_max_threads();
  if (threads == 1) {
    for (int64_t i = 0; i < p.batch; ++i) piece(p, i, 0, p.M, 0, p.N);
    return;
  }
  if (p.batch % threads == 0) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < p.batch; ++i) piece(p, i, 0, p.M, 0, p.N);
    return;
  }
  const bool by_rows = p.M >= p.N;
  const int64_t side = by_rows ? p.M : p.N;
  const int64_t chunk = ((side + threads - 1) / threads + kAlign - 1) / kAlign * kAlign;
  const int64_t pieces = p.batch * threads;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t k = 0; k < pieces; ++k) {
    const int64_t i = k / threads, lo = std::min(side, (k % threads) * chunk), hi = std::min(side, lo + chunk);
    if (by_rows)
      piece(p, i, lo, hi, 0, p.N);
    else
      piece(p, i, 0, p.M, lo, hi);
  }
}

template void gemm<float>(Exec, const GemmParams<float>&);
template void gemm<double>(Exec, const GemmParams<double>&);

}  // namespace ff::kernels::cpu
