#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/optimizer.h"

namespace ff::kernels::cuda {
namespace {

__global__ void adam_advance_kernel(double* step, double* correction, const float* control, double beta1,
                                    double beta2) {
  step[0] += control[1];
  if (correction) {
    correction[0] = 1.0 / (1.0 - pow(beta1, step[0]));
    correction[1] = 1.0 / sqrt(1.0 - pow(beta2, step[0]));
  }
}

// One thread per element in a grid-stride loop; the element math is adam_element.
template <typename T>
__global__ void adam_kernel(T* __restrict__ param, const T* __restrict__ grad, T* __restrict__ exp_avg,
                            T* __restrict__ exp_avg_sq, int64_t n, AdamHyper<T> hyper, const float* control,
                            const double* correction) {
  if (control[1] == 0.0f) return;
  const T scale = control[0], c1 = static_cast<T>(correction[0]), c2 = static_cast<T>(correction[1]);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x) {
    T p = param[i], m = exp_avg[i], v = exp_avg_sq[i];
    adam_element(p, scale * grad[i], m, v, hyper, c1, c2);
    param[i] = p;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
  }
}

template <typename T>
__global__ void sgd_kernel(T* __restrict__ param, const T* __restrict__ grad, T* __restrict__ momentum_buffer,
                           int64_t n, SgdHyper<T> hyper, const float* control, const double* step) {
  if (control[1] == 0.0f) return;
  const T scale = control[0];
  const bool first = step[0] == 1.0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    sgd_element(param[i], scale * grad[i], momentum_buffer ? momentum_buffer + i : nullptr, hyper, first);
}

}  // namespace

void advance_step(Exec exec, double* step, const float* control) {
  adam_advance_kernel<<<1, 1, 0, exec.stream>>>(step, nullptr, control, 0.0, 0.0);
  FF_CUDA_CHECK_LAUNCH();
}

void adam_advance(Exec exec, double* step, double* correction, const float* control, double beta1, double beta2) {
  adam_advance_kernel<<<1, 1, 0, exec.stream>>>(step, correction, control, beta1, beta2);
  FF_CUDA_CHECK_LAUNCH();
}

template <typename T>
void adam(Exec exec, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n, const AdamHyper<T>& hyper,
          const float* control, const double* correction) {
  if (n == 0) return;
  adam_kernel<<<grid_for(n), kBlock, 0, exec.stream>>>(param, grad, exp_avg, exp_avg_sq, n, hyper, control,
                                                      correction);
  FF_CUDA_CHECK_LAUNCH();
}

template <typename T>
void sgd(Exec exec, T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdHyper<T>& hyper,
         const float* control, const double* step) {
  if (n == 0) return;
  sgd_kernel<<<grid_for(n), kBlock, 0, exec.stream>>>(param, grad, momentum_buffer, n, hyper, control, step);
  FF_CUDA_CHECK_LAUNCH();
}

template void adam<float>(Exec, float*, const float*, float*, float*, int64_t, const AdamHyper<float>&, const float*,
                          const double*);
template void sgd<float>(Exec, float*, const float*, float*, int64_t, const SgdHyper<float>&, const float*,
                         const double*);

}  // namespace ff::kernels::cuda
