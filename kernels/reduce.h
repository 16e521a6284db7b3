#pragma once
// Sum over the middle axis of a contiguous (outer, R, inner) array:
//   x: (outer, R, inner)  ->  y: (outer, inner),  y[o, i] = sum_r x[o, r, i]
// Any reduction over a set of adjacent dimensions of a contiguous tensor is one such call.
// bf16 accumulates in f32 and rounds the sum once.

#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/exec.h"

namespace ff::kernels {

inline constexpr KernelDTypes kSumDTypes{.cpu = kFloatDTypes, .cuda = kFloatDTypes};

namespace cpu {
template <typename T>
void sum_axis(Exec, const T* x, T* y, int64_t outer, int64_t R, int64_t inner);
}

#ifdef FF_WITH_CUDA
namespace cuda {
template <typename T>
void sum_axis(Exec, const T* x, T* y, int64_t outer, int64_t R, int64_t inner);
}
#endif

}  // namespace ff::kernels
