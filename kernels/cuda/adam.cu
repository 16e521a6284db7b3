#include "kernels/adam.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"

namespace ff::kernels::cuda {
namespace {

// One thread per element in a grid-stride loop; the element math is adam_element.
__global__ void adam_kernel(float* __restrict__ param, const float* __restrict__ grad,
                            float* __restrict__ exp_avg, float* __restrict__ exp_avg_sq, int64_t n,
                            AdamHyper<float> hyper) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x) {
    float p = param[i], m = exp_avg[i], v = exp_avg_sq[i];
    adam_element(p, grad[i], m, v, hyper);
    param[i] = p;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
  }
}

}  // namespace

void adam(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
          const AdamHyper<float>& hyper, cudaStream_t stream) {
  if (n == 0) return;
  adam_kernel<<<grid_for(n), kBlock, 0, stream>>>(param, grad, exp_avg, exp_avg_sq, n, hyper);
  FF_CUDA_CHECK_LAUNCH();
}

}  // namespace ff::kernels::cuda
