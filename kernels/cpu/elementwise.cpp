#include "kernels/elementwise.h"

#include <omp.h>

#include <algorithm>
#include <utility>

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

// fn(o0 + j, o1 + j * s1, ...) for j in [0, n): the output contiguous, input k's stride 1 when
// bit k - 1 of Unit is set, else 0. Compile-time strides let the compiler vectorise the run.
template <int N, unsigned Unit, typename Fn>
void unit_run(const int64_t* o, int64_t n, Fn& fn) {
  auto at = [&](int k, int64_t j) { return k < N ? o[k] + (k == 0 || (Unit >> (k - 1)) & 1u ? j : 0) : 0; };
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) fn(at(0, j), at(1, j), at(2, j), at(3, j));
}

template <int N, typename Fn, unsigned... Units>
void dispatch_run(unsigned unit, const int64_t* o, int64_t n, Fn& fn, std::integer_sequence<unsigned, Units...>) {
  ((unit == Units ? (unit_run<N, Units>(o, n, fn), true) : false) || ...);
}

// One run of the innermost dimension: offsets o, strides s. Runs whose output is contiguous
// and whose inputs are contiguous or broadcast (stride 0) take a vectorised loop.
template <int N, typename Fn>
void inner_run(const int64_t* o, const int64_t* s, int64_t n, Fn& fn) {
  unsigned unit = 0;
  bool unit_or_zero = s[0] == 1;
  for (int k = 1; k < N; ++k) {
    unit_or_zero = unit_or_zero && (s[k] == 0 || s[k] == 1);
    unit |= s[k] == 1 ? 1u << (k - 1) : 0u;
  }
  if (unit_or_zero) {
    dispatch_run<N>(unit, o, n, fn, std::make_integer_sequence<unsigned, 1u << (N - 1)>{});
    return;
  }
  for (int64_t j = 0; j < n; ++j) {
    int64_t off[4] = {};
    for (int k = 0; k < N; ++k) off[k] = o[k] + j * s[k];
    fn(off[0], off[1], off[2], off[3]);
  }
}

// f(offsets...) over every element; a flat loop when all operands are contiguous, otherwise
// runs along the innermost dimension with the offsets computed once per run.
template <int N, typename Fn>
void for_each(const Indexer<N>& ix, Fn&& fn) {
  if (ix.contiguous()) {
    parallel_range(ix.numel, [&](int64_t begin, int64_t end) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) fn(i, i, i, i);
    });
    return;
  }
  const int last = ix.ndim - 1;
  const int64_t inner = ix.size[last];
  int64_t s[N];
  for (int k = 0; k < N; ++k) s[k] = ix.stride[k][last];
  parallel_range(ix.numel, [&](int64_t begin, int64_t end) {
    int64_t off[N];
    for (int64_t i = begin; i < end;) {
      ix.offsets(i, off);
      const int64_t n = std::min(inner - i % inner, end - i);
      inner_run<N>(off, s, n, fn);
      i += n;
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
