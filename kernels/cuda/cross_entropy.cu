#include "kernels/cross_entropy.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/row_reduce.cuh"

namespace ff::kernels::cuda {
namespace {

// An id that is neither ignored nor a class (the CPU throws; here the row becomes NaN).
__device__ __forceinline__ bool bad_id(int64_t t, int64_t C, int64_t ignore_index) {
  return t != ignore_index && (t < 0 || t >= C);
}

// x: (N, C), target: (N) -> loss, lse, valid: (N)
template <int kThreads, typename I>
__global__ void cross_entropy_forward_kernel(const float* x, const I* target, float* loss, float* lse, float* valid,
                                             int64_t N, int64_t C, int64_t ignore_index, float eps) {
  using G = RowGroup<kThreads>;
  const int64_t row = G::row();
  if (row >= N) return;
  const float* xr = x + row * C;
  auto stats = OnlineSoftmax<float>::empty();
  float sum_x = 0.0f;
  for (int64_t j = G::lane(); j < C; j += kThreads) {
    stats.add(xr[j]);
    sum_x += xr[j];
  }
  stats = G::all_reduce(stats, MergeSoftmaxOp{});
  sum_x = G::all_reduce(sum_x, AddOp{});
  if (G::lane() != 0) return;
  const float l = stats.log_sum_exp();
  const int64_t t = static_cast<int64_t>(target[row]);
  lse[row] = l;
  if (t == ignore_index) {
    loss[row] = 0.0f;
    valid[row] = 0.0f;
  } else {
    loss[row] = bad_id(t, C, ignore_index) ? NAN : hard_cross_entropy(l, xr[t], sum_x, eps, C);
    valid[row] = 1.0f;
  }
}

// x, target: (N, C) -> loss, lse: (N)
template <int kThreads>
__global__ void soft_cross_entropy_forward_kernel(const float* x, const float* target, float* loss, float* lse,
                                                  int64_t N, int64_t C, float eps) {
  using G = RowGroup<kThreads>;
  const int64_t row = G::row();
  if (row >= N) return;
  const float* xr = x + row * C;
  const float* qr = target + row * C;
  auto stats = OnlineSoftmax<float>::empty();
  float2 mass_dot = make_float2(0.0f, 0.0f);
  for (int64_t j = G::lane(); j < C; j += kThreads) {
    stats.add(xr[j]);
    const float q = smoothed_target(qr[j], eps, C);
    mass_dot.x += q;
    mass_dot.y += q * xr[j];
  }
  stats = G::all_reduce(stats, MergeSoftmaxOp{});
  mass_dot = G::all_reduce(mass_dot, AddOp{});
  if (G::lane() != 0) return;
  const float l = stats.log_sum_exp();
  lse[row] = l;
  loss[row] = l * mass_dot.x - mass_dot.y;
}

// One thread per element of dx: (N, C).
template <typename I>
__global__ void cross_entropy_backward_kernel(const float* x, const I* target, const float* lse, const float* grad,
                                              int64_t grad_stride, float* dx, int64_t N, int64_t C,
                                              int64_t ignore_index, float eps) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < N * C;
       idx += int64_t(blockDim.x) * gridDim.x) {
    const int64_t i = idx / C, j = idx % C;
    const int64_t t = static_cast<int64_t>(target[i]);
    if (t == ignore_index) {
      dx[idx] = 0.0f;
    } else if (bad_id(t, C, ignore_index)) {
      dx[idx] = NAN;
    } else {
      const float q = smoothed_target(j == t ? 1.0f : 0.0f, eps, C);
      dx[idx] = cross_entropy_grad(x[idx], lse[i], q, 1.0f, grad[i * grad_stride]);
    }
  }
}

// x, target: (N, C), lse: (N) -> dx: (N, C)
template <int kThreads>
__global__ void soft_cross_entropy_backward_kernel(const float* x, const float* target, const float* lse,
                                                   const float* grad, int64_t grad_stride, float* dx, int64_t N,
                                                   int64_t C, float eps) {
  using G = RowGroup<kThreads>;
  const int64_t row = G::row();
  if (row >= N) return;
  const float* xr = x + row * C;
  const float* qr = target + row * C;
  float* dr = dx + row * C;
  float mass = 0.0f;
  for (int64_t j = G::lane(); j < C; j += kThreads) mass += smoothed_target(qr[j], eps, C);
  mass = G::all_reduce(mass, AddOp{});
  const float s = grad[row * grad_stride], l = lse[row];
  for (int64_t j = G::lane(); j < C; j += kThreads)
    dr[j] = cross_entropy_grad(xr[j], l, smoothed_target(qr[j], eps, C), mass, s);
}

// lp: (N, C), target: (N) -> loss, valid: (N); one thread per row.
template <typename I>
__global__ void nll_forward_kernel(const float* lp, const I* target, float* loss, float* valid, int64_t N,
                                   int64_t C, int64_t ignore_index) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N; i += int64_t(blockDim.x) * gridDim.x) {
    const int64_t t = static_cast<int64_t>(target[i]);
    const bool ignored = t == ignore_index;
    loss[i] = ignored ? 0.0f : bad_id(t, C, ignore_index) ? NAN : -lp[i * C + t];
    valid[i] = ignored ? 0.0f : 1.0f;
  }
}

// One thread per element of dlp: (N, C).
template <typename I>
__global__ void nll_backward_kernel(const I* target, const float* grad, int64_t grad_stride, float* dlp, int64_t N,
                                    int64_t C, int64_t ignore_index) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < N * C;
       idx += int64_t(blockDim.x) * gridDim.x) {
    const int64_t i = idx / C, j = idx % C;
    const int64_t t = static_cast<int64_t>(target[i]);
    dlp[idx] = bad_id(t, C, ignore_index) ? NAN : (t != ignore_index && j == t) ? -grad[i * grad_stride] : 0.0f;
  }
}

template <int kThreads, typename I>
void launch_forward(const float* x, const I* target, float* loss, float* lse, float* valid, int64_t N, int64_t C,
                    int64_t ignore_index, float eps, cudaStream_t stream) {
  cross_entropy_forward_kernel<kThreads, I>
      <<<RowGroup<kThreads>::row_blocks(N), kBlock, 0, stream>>>(x, target, loss, lse, valid, N, C, ignore_index, eps);
}
template <int kThreads>
void launch_soft_forward(const float* x, const float* target, float* loss, float* lse, int64_t N, int64_t C,
                         float eps, cudaStream_t stream) {
  soft_cross_entropy_forward_kernel<kThreads>
      <<<RowGroup<kThreads>::row_blocks(N), kBlock, 0, stream>>>(x, target, loss, lse, N, C, eps);
}
template <int kThreads>
void launch_soft_backward(const float* x, const float* target, const float* lse, const float* grad,
                          int64_t grad_stride, float* dx, int64_t N, int64_t C, float eps, cudaStream_t stream) {
  soft_cross_entropy_backward_kernel<kThreads>
      <<<RowGroup<kThreads>::row_blocks(N), kBlock, 0, stream>>>(x, target, lse, grad, grad_stride, dx, N, C, eps);
}

}  // namespace

// The launchers exist for T = float (KernelDTypes above); the kernels are f32.
template <typename T, typename I>
void cross_entropy_forward(Exec exec, const T* x, const I* target, T* loss, T* lse, T* valid, int64_t N, int64_t C,
                           int64_t ignore_index, double eps) {
  if (N == 0) return;
  if (C <= kMaxWarpRow) {
    launch_forward<32, I>(x, target, loss, lse, valid, N, C, ignore_index, float(eps), exec.stream);
  } else {
    launch_forward<kBlock, I>(x, target, loss, lse, valid, N, C, ignore_index, float(eps), exec.stream);
  }
  FF_CUDA_CHECK_LAUNCH();
}

template <typename T>
void soft_cross_entropy_forward(Exec exec, const T* x, const T* target, T* loss, T* lse, int64_t N, int64_t C,
                                double eps) {
  if (N == 0) return;
  if (C <= kMaxWarpRow) {
    launch_soft_forward<32>(x, target, loss, lse, N, C, float(eps), exec.stream);
  } else {
    launch_soft_forward<kBlock>(x, target, loss, lse, N, C, float(eps), exec.stream);
  }
  FF_CUDA_CHECK_LAUNCH();
}

template <typename T, typename I>
void cross_entropy_backward(Exec exec, const T* x, const I* target, const T* lse, const T* grad, int64_t grad_stride,
                            T* dx, int64_t N, int64_t C, int64_t ignore_index, double eps) {
  if (N * C == 0) return;
  cross_entropy_backward_kernel<I><<<grid_for(N * C), kBlock, 0, exec.stream>>>(x, target, lse, grad, grad_stride,
                                                                                 dx, N, C, ignore_index, float(eps));
  FF_CUDA_CHECK_LAUNCH();
}

template <typename T>
void soft_cross_entropy_backward(Exec exec, const T* x, const T* target, const T* lse, const T* grad,
                                 int64_t grad_stride, T* dx, int64_t N, int64_t C, double eps) {
  if (N * C == 0) return;
  if (C <= kMaxWarpRow) {
    launch_soft_backward<32>(x, target, lse, grad, grad_stride, dx, N, C, float(eps), exec.stream);
  } else {
    launch_soft_backward<kBlock>(x, target, lse, grad, grad_stride, dx, N, C, float(eps), exec.stream);
  }
  FF_CUDA_CHECK_LAUNCH();
}

template <typename T, typename I>
void nll_forward(Exec exec, const T* lp, const I* target, T* loss, T* valid, int64_t N, int64_t C,
                 int64_t ignore_index) {
  if (N == 0) return;
  nll_forward_kernel<I><<<grid_for(N), kBlock, 0, exec.stream>>>(lp, target, loss, valid, N, C, ignore_index);
  FF_CUDA_CHECK_LAUNCH();
}

template <typename T, typename I>
void nll_backward(Exec exec, const I* target, const T* grad, int64_t grad_stride, T* dlp, int64_t N, int64_t C,
                  int64_t ignore_index) {
  if (N * C == 0) return;
  nll_backward_kernel<I><<<grid_for(N * C), kBlock, 0, exec.stream>>>(target, grad, grad_stride, dlp, N, C,
                                                                      ignore_index);
  FF_CUDA_CHECK_LAUNCH();
}

#define FF_INSTANTIATE(I)                                                                                          \
  template void cross_entropy_forward<float, I>(Exec, const float*, const I*, float*, float*, float*, int64_t,      \
                                                int64_t, int64_t, double);                                         \
  template void cross_entropy_backward<float, I>(Exec, const float*, const I*, const float*, const float*, int64_t, \
                                                 float*, int64_t, int64_t, int64_t, double);                       \
  template void nll_forward<float, I>(Exec, const float*, const I*, float*, float*, int64_t, int64_t, int64_t);    \
  template void nll_backward<float, I>(Exec, const I*, const float*, int64_t, float*, int64_t, int64_t, int64_t);
FF_INSTANTIATE(int32_t)
FF_INSTANTIATE(int64_t)
#undef FF_INSTANTIATE
template void soft_cross_entropy_forward<float>(Exec, const float*, const float*, float*, float*, int64_t, int64_t,
                                                double);
template void soft_cross_entropy_backward<float>(Exec, const float*, const float*, const float*, const float*,
                                                 int64_t, float*, int64_t, int64_t, double);

}  // namespace ff::kernels::cuda
