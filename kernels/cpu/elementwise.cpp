#include "kernels/elementwise.h"

#include <omp.h>

namespace ff::kernels::cpu {
namespace {

// Below this many elements, threads cost more than they save.
constexpr int64_t kParallelGrain = 1 << 15;

// Runs body(begin, end) over [0, n) split across OpenMP threads.
template <typename Body>
void parallel_range(int64_t n, Body&& body) {
  if (n < kParallelGrain || omp_in_parallel()) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t chunk = (n + nt - 1) / nt;
    int64_t begin = std::min<int64_t>(n, t * chunk), end = std::min<int64_t>(n, begin + chunk);
    if (begin < end) body(begin, end);
  }
}

// f(offsets...) over every element; a flat loop when all operands are contiguous.
template <int N, typename Fn>
void for_each(const Indexer<N>& ix, Fn&& fn) {
  if (ix.contiguous()) {
    parallel_range(ix.numel, [&](int64_t begin, int64_t end) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) fn(i, i, i, i);
    });
    return;
  }
  parallel_range(ix.numel, [&](int64_t begin, int64_t end) {
    int64_t off[N];
    for (int64_t i = begin; i < end; ++i) {
      ix.offsets(i, off);
      if constexpr (N == 2) fn(off[0], off[1], 0, 0);
      if constexpr (N == 3) fn(off[0], off[1], off[2], 0);
      if constexpr (N == 4) fn(off[0], off[1], off[2], off[3]);
    }
  });
}

}  // namespace

template <typename Dst, typename Src>
void copy(Exec, const Indexer<2>& ix, Dst* dst, const Src* src) {
  for_each(ix, [&](int64_t o, int64_t i, int64_t, int64_t) { dst[o] = convert<Dst>(src[i]); });
}

template <typename T>
void unary(Exec, UnaryOp op, const Indexer<2>& ix, T* y, const T* x, double a, double b) {
  using C = compute_t<T>;
  const C ca = static_cast<C>(a), cb = static_cast<C>(b);
  visit_unary(op, [&]<UnaryOp OP>() {
    for_each(ix, [&](int64_t o, int64_t i, int64_t, int64_t) { y[o] = narrow<T>(unary_fn<OP>(widen(x[i]), ca, cb)); });
  });
}

template <typename T>
void binary(Exec, BinaryOp op, const Indexer<3>& ix, T* z, const T* x, const T* y) {
  visit_binary(op, [&]<BinaryOp OP>() {
    for_each(ix, [&](int64_t o, int64_t i, int64_t j, int64_t) {
      z[o] = narrow<T>(binary_fn<OP>(widen(x[i]), widen(y[j])));
    });
  });
}

template <typename T>
void where(Exec, const Indexer<4>& ix, T* out, const uint8_t* cond, const T* x, const T* y) {
  for_each(ix, [&](int64_t o, int64_t c, int64_t i, int64_t j) { out[o] = cond[c] ? x[i] : y[j]; });
}

#define FF_COPY(D, S) template void copy<D, S>(Exec, const Indexer<2>&, D*, const S*);
#define FF_COPY_FROM(S) FF_COPY(float, S) FF_COPY(double, S) FF_COPY(BFloat16, S) \
  FF_COPY(int32_t, S) FF_COPY(int64_t, S) FF_COPY(uint8_t, S)
FF_COPY_FROM(float) FF_COPY_FROM(double) FF_COPY_FROM(BFloat16)
FF_COPY_FROM(int32_t) FF_COPY_FROM(int64_t) FF_COPY_FROM(uint8_t)
#undef FF_COPY_FROM
#undef FF_COPY

#define FF_MATH(T)                                                                           \
  template void unary<T>(Exec, UnaryOp, const Indexer<2>&, T*, const T*, double, double);    \
  template void binary<T>(Exec, BinaryOp, const Indexer<3>&, T*, const T*, const T*);        \
  template void where<T>(Exec, const Indexer<4>&, T*, const uint8_t*, const T*, const T*);
FF_MATH(float)
FF_MATH(double)
FF_MATH(BFloat16)
#undef FF_MATH

}  // namespace ff::kernels::cpu
