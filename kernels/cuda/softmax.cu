#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/row_reduce.cuh"
#include "kernels/softmax.h"

namespace ff::kernels::cuda {
namespace {

// x: (rows, D) -> y: (rows, D)
template <int kThreads>
__global__ void softmax_forward_kernel(const float* x, float* y, int64_t rows, int64_t D, bool log) {
  using G = RowGroup<kThreads>;
  const int64_t row = G::row();
  if (row >= rows) return;
  const float* xr = x + row * D;
  float* yr = y + row * D;
  auto stats = OnlineSoftmax<float>::empty();
  for (int64_t j = G::lane(); j < D; j += kThreads) stats.add(xr[j]);
  stats = G::all_reduce(stats, MergeSoftmaxOp{});
  if (log) {
    const float lse = stats.log_sum_exp();
    for (int64_t j = G::lane(); j < D; j += kThreads) yr[j] = xr[j] - lse;
  } else {
    const float inv = 1.0f / stats.sum;
    for (int64_t j = G::lane(); j < D; j += kThreads) yr[j] = expf(xr[j] - stats.max) * inv;
  }
}

// y, g: (rows, D) -> dx: (rows, D)
template <int kThreads>
__global__ void softmax_backward_kernel(const float* y, const float* g, float* dx, int64_t rows, int64_t D,
                                        bool log) {
  using G = RowGroup<kThreads>;
  const int64_t row = G::row();
  if (row >= rows) return;
  const float* yr = y + row * D;
  const float* gr = g + row * D;
  float* dr = dx + row * D;
  float red = 0.0f;
  for (int64_t j = G::lane(); j < D; j += kThreads) red += log ? gr[j] : gr[j] * yr[j];
  red = G::all_reduce(red, AddOp{});
  for (int64_t j = G::lane(); j < D; j += kThreads)
    dr[j] = log ? log_softmax_grad(yr[j], gr[j], red) : softmax_grad(yr[j], gr[j], red);
}

template <int kThreads>
void launch_forward(const float* x, float* y, int64_t rows, int64_t D, bool log, cudaStream_t stream) {
  softmax_forward_kernel<kThreads><<<RowGroup<kThreads>::row_blocks(rows), kBlock, 0, stream>>>(x, y, rows, D, log);
}
template <int kThreads>
void launch_backward(const float* y, const float* g, float* dx, int64_t rows, int64_t D, bool log,
                     cudaStream_t stream) {
  softmax_backward_kernel<kThreads>
      <<<RowGroup<kThreads>::row_blocks(rows), kBlock, 0, stream>>>(y, g, dx, rows, D, log);
}

}  // namespace

template <typename T>
void softmax_forward(Exec exec, const T* x, T* y, int64_t rows, int64_t D, bool log) {
  if (rows == 0 || D == 0) return;
  cudaStream_t stream = exec.stream;
  if (D <= kMaxWarpRow) {
    launch_forward<32>(x, y, rows, D, log, stream);
  } else {
    launch_forward<kBlock>(x, y, rows, D, log, stream);
  }
  FF_CUDA_CHECK_LAUNCH();
}

template <typename T>
void softmax_backward(Exec exec, const T* y, const T* g, T* dx, int64_t rows, int64_t D, bool log) {
  if (rows == 0 || D == 0) return;
  cudaStream_t stream = exec.stream;
  if (D <= kMaxWarpRow) {
    launch_backward<32>(y, g, dx, rows, D, log, stream);
  } else {
    launch_backward<kBlock>(y, g, dx, rows, D, log, stream);
  }
  FF_CUDA_CHECK_LAUNCH();
}

template void softmax_forward<float>(Exec, const float*, float*, int64_t, int64_t, bool);
template void softmax_backward<float>(Exec, const float*, const float*, float*, int64_t, int64_t, bool);

}  // namespace ff::kernels::cuda
