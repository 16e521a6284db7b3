#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/elementwise.h"

namespace ff::kernels::cuda {
namespace {

// One thread per element in a grid-stride loop; the same per-element math as the CPU loop.
template <int N, typename Fn>
__global__ void elementwise_kernel(Indexer<N> ix, Fn fn) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < ix.numel;
       i += int64_t(blockDim.x) * gridDim.x) {
    int64_t off[N];
    ix.offsets(i, off);
    fn(off);
  }
}

template <int N, typename Fn>
void launch(const Indexer<N>& ix, cudaStream_t stream, Fn fn) {
  if (ix.numel == 0) return;
  elementwise_kernel<N><<<grid_for(ix.numel), kBlock, 0, stream>>>(ix, fn);
  FF_CUDA_CHECK_LAUNCH();
}

// Math in compute_t<T> (f32 for bf16), one rounding per stored element.
template <UnaryOp OP, typename T>
struct UnaryFunctor {
  T* y;
  const T* x;
  compute_t<T> a, b;
  __device__ void operator()(const int64_t* off) const { y[off[0]] = narrow<T>(unary_fn<OP>(widen(x[off[1]]), a, b)); }
};

template <BinaryOp OP, typename T>
struct BinaryFunctor {
  T* z;
  const T* x;
  const T* y;
  __device__ void operator()(const int64_t* off) const {
    z[off[0]] = narrow<T>(binary_fn<OP>(widen(x[off[1]]), widen(y[off[2]])));
  }
};

}  // namespace

template <typename Dst, typename Src>
void copy(Exec exec, const Indexer<2>& ix, Dst* dst, const Src* src) {
  launch(ix, exec.stream, [=] __device__(const int64_t* off) { dst[off[0]] = convert<Dst>(src[off[1]]); });
}

template <typename T>
void unary(Exec exec, UnaryOp op, const Indexer<2>& ix, T* y, const T* x, double a, double b) {
  using C = compute_t<T>;
  visit_unary(op, [&]<UnaryOp OP>() {
    launch(ix, exec.stream, UnaryFunctor<OP, T>{y, x, static_cast<C>(a), static_cast<C>(b)});
  });
}

template <typename T>
void binary(Exec exec, BinaryOp op, const Indexer<3>& ix, T* z, const T* x, const T* y) {
  visit_binary(op, [&]<BinaryOp OP>() {
    launch(ix, exec.stream, BinaryFunctor<OP, T>{z, x, y});
  });
}

template <typename T>
void where(Exec exec, const Indexer<4>& ix, T* out, const uint8_t* cond, const T* x, const T* y) {
  launch(ix, exec.stream, [=] __device__(const int64_t* off) { out[off[0]] = cond[off[1]] ? x[off[2]] : y[off[3]]; });
}

using bf16 = __nv_bfloat16;
#define FF_COPY(D, S) template void copy<D, S>(Exec, const Indexer<2>&, D*, const S*);
#define FF_COPY_FROM(S) FF_COPY(float, S) FF_COPY(double, S) FF_COPY(bf16, S) \
  FF_COPY(int32_t, S) FF_COPY(int64_t, S) FF_COPY(uint8_t, S)
FF_COPY_FROM(float) FF_COPY_FROM(double) FF_COPY_FROM(bf16)
FF_COPY_FROM(int32_t) FF_COPY_FROM(int64_t) FF_COPY_FROM(uint8_t)
#undef FF_COPY_FROM
#undef FF_COPY

#define FF_MATH(T)                                                                           \
  template void unary<T>(Exec, UnaryOp, const Indexer<2>&, T*, const T*, double, double);    \
  template void binary<T>(Exec, BinaryOp, const Indexer<3>&, T*, const T*, const T*);        \
  template void where<T>(Exec, const Indexer<4>&, T*, const uint8_t*, const T*, const T*);
FF_MATH(float)
FF_MATH(double)
FF_MATH(bf16)
#undef FF_MATH

}  // namespace ff::kernels::cuda
