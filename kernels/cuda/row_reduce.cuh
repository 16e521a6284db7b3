#pragma once
// Row-wise kernels over a contiguous (rows, D) array: a group of threads owns one row and
// all-reduces values over it. Short rows (D <= 1024) use one warp per row, several rows per
// block; long rows use the whole block. Used by the softmax, layer-norm and cross-entropy
// kernels.

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/launch.cuh"
#include "kernels/softmax.h"

namespace ff::kernels::cuda {

constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ float shfl_xor(float v, int lane_mask) { return __shfl_xor_sync(kFullMask, v, lane_mask); }
__device__ __forceinline__ float2 shfl_xor(float2 v, int lane_mask) {
  return make_float2(shfl_xor(v.x, lane_mask), shfl_xor(v.y, lane_mask));
}
__device__ __forceinline__ OnlineSoftmax<float> shfl_xor(OnlineSoftmax<float> v, int lane_mask) {
  return {shfl_xor(v.max, lane_mask), shfl_xor(v.sum, lane_mask)};
}

struct AddOp {
  __device__ float operator()(float a, float b) const { return a + b; }
  __device__ float2 operator()(float2 a, float2 b) const { return make_float2(a.x + b.x, a.y + b.y); }
};
struct MergeSoftmaxOp {
  __device__ OnlineSoftmax<float> operator()(OnlineSoftmax<float> a, OnlineSoftmax<float> b) const {
    a.merge(b);
    return a;
  }
};

// kThreads threads per row: 32 (a warp) or kBlock (the block). Launch with kBlock threads
// per block and row_blocks(rows) blocks.
template <int kThreads>
struct RowGroup {
  static_assert(kThreads == 32 || kThreads == kBlock, "a row belongs to a warp or a block");
  static constexpr int kRowsPerBlock = kBlock / kThreads;

  static unsigned row_blocks(int64_t rows) { return static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock); }
  __device__ static int lane() { return static_cast<int>(threadIdx.x % kThreads); }
  // The row of this thread; with warps, a whole warp shares it (rows past the end exit as a
  // warp, so the shuffles below never miss a lane).
  __device__ static int64_t row() { return int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kThreads; }

  // Every thread of the group gets op over the group's values.
  template <typename V, typename Op>
  __device__ static V all_reduce(V v, Op op) {
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) v = op(v, shfl_xor(v, m));
    if constexpr (kThreads == 32) {
      return v;
    } else {
      __shared__ V partial[kBlock / 32];
      __syncthreads();  // a previous all_reduce may still be reading `partial`
      if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
      __syncthreads();
      V r = partial[0];
#pragma unroll
      for (int w = 1; w < kBlock / 32; ++w) r = op(r, partial[w]);
      return r;
    }
  }
};

// Row lengths up to this use a warp per row; longer rows a block.
constexpr int64_t kMaxWarpRow = 1024;

}  // namespace ff::kernels::cuda
