#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/embedding.h"

namespace ff::kernels::cuda {
namespace {

// One thread per output element (grid-stride); ids are not range-checked (see embedding.h).
template <typename T, typename I>
__global__ void embedding_forward_kernel(const T* weight, const I* ids, T* out, int64_t n, int64_t D) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n * D;
       idx += int64_t(blockDim.x) * gridDim.x) {
    int64_t i = idx / D, d = idx - i * D;
    out[idx] = weight[static_cast<int64_t>(ids[i]) * D + d];
  }
}

template <typename T, typename I>
__global__ void embedding_backward_kernel(const T* grad_out, const I* ids, T* grad_weight, int64_t n, int64_t D) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n * D;
       idx += int64_t(blockDim.x) * gridDim.x) {
    int64_t i = idx / D, d = idx - i * D;
    atomicAdd(grad_weight + static_cast<int64_t>(ids[i]) * D + d, grad_out[idx]);
  }
}

}  // namespace

template <typename T, typename I>
void embedding_forward(Exec exec, const T* weight, const I* ids, T* out, int64_t n, int64_t V, int64_t D) {
  if (n * D == 0) return;
  embedding_forward_kernel<T, I><<<grid_for(n * D), kBlock, 0, exec.stream>>>(weight, ids, out, n, D);
  FF_CUDA_CHECK_LAUNCH();
}

template <typename T, typename I>
void embedding_backward(Exec exec, const T* grad_out, const I* ids, T* grad_weight, int64_t n, int64_t V, int64_t D) {
  if (n * D == 0) return;
  embedding_backward_kernel<T, I><<<grid_for(n * D), kBlock, 0, exec.stream>>>(grad_out, ids, grad_weight, n, D);
  FF_CUDA_CHECK_LAUNCH();
}

#define FF_INSTANTIATE(T, I)                                                                                 \
  template void embedding_forward<T, I>(Exec, const T*, const I*, T*, int64_t, int64_t, int64_t);   \
  template void embedding_backward<T, I>(Exec, const T*, const I*, T*, int64_t, int64_t, int64_t);
FF_INSTANTIATE(float, int32_t)
FF_INSTANTIATE(float, int64_t)
FF_INSTANTIATE(double, int32_t)
FF_INSTANTIATE(double, int64_t)
#undef FF_INSTANTIATE

}  // namespace ff::kernels::cuda
