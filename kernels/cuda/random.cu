// CUDA random fills: one thread per block of 4 elements (grid-stride), the Philox call and
// the transform are the FF_HD code of kernels/philox.h that the CPU fills run too.

#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/cuda/cuda_check.h"
#include "kernels/random.h"

namespace ff::kernels::cuda {

namespace {

// One 16-byte (float) or 4-byte (uint8) store for a full block; needs out aligned to that.
__device__ __forceinline__ void store4(float* out, const float v[4]) {
  *reinterpret_cast<float4*>(out) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void store4(uint8_t* out, const float v[4]) {
  *reinterpret_cast<uchar4*>(out) = make_uchar4(static_cast<uint8_t>(v[0]), static_cast<uint8_t>(v[1]),
                                                static_cast<uint8_t>(v[2]), static_cast<uint8_t>(v[3]));
}

// out: (n,). Block g writes elements 4g .. min(4g + 4, n) - 1.
template <typename T, typename Transform>
__global__ void fill_kernel(T* out, int64_t n, Transform transform, PhiloxState state) {
  const bool vector_store = reinterpret_cast<uintptr_t>(out) % (4 * sizeof(T)) == 0;
  const int64_t blocks = (n + 3) / 4;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < blocks; g += stride) {
    float values[4];
    transform(philox::block_for(state, static_cast<uint64_t>(g)), values);
    const int64_t begin = 4 * g;
    if (begin + 4 <= n && vector_store) {
      store4(out + begin, values);
    } else if (begin + 4 <= n) {
#pragma unroll
      for (int i = 0; i < 4; ++i) out[begin + i] = static_cast<T>(values[i]);
    } else {
      for (int i = 0; begin + i < n; ++i) out[begin + i] = static_cast<T>(values[i]);
    }
  }
}

template <typename T, typename Transform>
void fill(T* out, int64_t n, const Transform& transform, PhiloxState state, cudaStream_t stream) {
  FF_CHECK(n >= 0, "random fill: negative length {}", n);
  if (n == 0) return;
  FF_CHECK(out != nullptr, "random fill: null output for {} elements", n);
  constexpr int kThreads = 256;
  const int64_t blocks = (n + 3) / 4;
  // Enough CTAs to fill the GPU several times over; the grid-stride loop covers the rest.
  const int grid = static_cast<int>(std::min<int64_t>((blocks + kThreads - 1) / kThreads, 65536));
  fill_kernel<<<grid, kThreads, 0, stream>>>(out, n, transform, state);
  FF_CUDA_CHECK_LAUNCH();
}

}  // namespace

template <typename T>
void uniform(Exec exec, T* out, int64_t n, float lo, float hi, PhiloxState state) {
  fill(out, n, philox::make_uniform(lo, hi), state, exec.stream);
}

template <typename T>
void normal(Exec exec, T* out, int64_t n, float mean, float std, PhiloxState state) {
  fill(out, n, philox::make_normal(mean, std), state, exec.stream);
}

template <typename T>
void truncated_normal(Exec exec, T* out, int64_t n, float mean, float std, float a, float b, PhiloxState state) {
  fill(out, n, philox::make_truncated_normal(mean, std, a, b), state, exec.stream);
}

void bernoulli_mask(Exec exec, uint8_t* mask, int64_t n, float p_keep, PhiloxState state) {
  fill(mask, n, philox::make_bernoulli(p_keep, 1.0f), state, exec.stream);
}

template <typename T>
void dropout_mask(Exec exec, T* mask, int64_t n, float p_keep, PhiloxState state) {
  fill(mask, n, philox::make_bernoulli(p_keep, p_keep > 0.0f ? 1.0f / p_keep : 0.0f), state, exec.stream);
}

template void uniform<float>(Exec, float*, int64_t, float, float, PhiloxState);
template void normal<float>(Exec, float*, int64_t, float, float, PhiloxState);
template void truncated_normal<float>(Exec, float*, int64_t, float, float, float, float, PhiloxState);
template void dropout_mask<float>(Exec, float*, int64_t, float, PhiloxState);

}  // namespace ff::kernels::cuda
