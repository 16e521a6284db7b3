#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/reduce.h"

namespace ff::kernels::cuda {
namespace {

// inner == 1: one block per row, a tree reduction in shared memory.
template <typename T>
__global__ void row_sum_kernel(const T* x, T* y, int64_t R) {
  using C = compute_t<T>;
  __shared__ C partial[kBlock];
  const T* row = x + blockIdx.x * R;
  C acc = 0;
  for (int64_t r = threadIdx.x; r < R; r += blockDim.x) acc += widen(row[r]);
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) y[blockIdx.x] = narrow<T>(partial[0]);
}

// inner > 1: one thread per output element walks the reduced axis (coalesced over inner).
template <typename T>
__global__ void column_sum_kernel(const T* x, T* y, int64_t outer, int64_t R, int64_t inner) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < outer * inner;
       idx += int64_t(blockDim.x) * gridDim.x) {
    int64_t o = idx / inner, i = idx % inner;
    const T* col = x + o * R * inner + i;
    compute_t<T> acc = 0;
    for (int64_t r = 0; r < R; ++r) acc += widen(col[r * inner]);
    y[idx] = narrow<T>(acc);
  }
}

}  // namespace

template <typename T>
void sum_axis(Exec exec, const T* x, T* y, int64_t outer, int64_t R, int64_t inner) {
  cudaStream_t stream = exec.stream;
  if (outer * inner == 0) return;
  if (inner == 1) {
    row_sum_kernel<T><<<static_cast<unsigned>(outer), kBlock, 0, stream>>>(x, y, R);
  } else {
    column_sum_kernel<T><<<grid_for(outer * inner), kBlock, 0, stream>>>(x, y, outer, R, inner);
  }
  FF_CUDA_CHECK_LAUNCH();
}

template void sum_axis<float>(Exec, const float*, float*, int64_t, int64_t, int64_t);
template void sum_axis<double>(Exec, const double*, double*, int64_t, int64_t, int64_t);
template void sum_axis<__nv_bfloat16>(Exec, const __nv_bfloat16*, __nv_bfloat16*, int64_t, int64_t, int64_t);

}  // namespace ff::kernels::cuda
