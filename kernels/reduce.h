#pragma once
// Sum over the middle axis of a contiguous (outer, R, inner) array:
//   x: (outer, R, inner)  ->  y: (outer, inner),  y[o, i] = sum_r x[o, r, i]
// Any reduction over a set of adjacent dimensions of a contiguous tensor is one such call.

#include <cstdint>

#ifdef FF_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace ff::kernels {

namespace cpu {
template <typename T>
void sum_axis(const T* x, T* y, int64_t outer, int64_t R, int64_t inner);
}

#ifdef FF_WITH_CUDA
namespace cuda {
template <typename T>
void sum_axis(const T* x, T* y, int64_t outer, int64_t R, int64_t inner, cudaStream_t stream);
}
#endif

}  // namespace ff::kernels
