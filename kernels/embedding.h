#pragma once
// Embedding lookup and its gradient on contiguous arrays:
//   forward:  out[i, :] = weight[ids[i], :]            weight (V, D), ids (n), out (n, D)
//   backward: grad_weight[ids[i], :] += grad_out[i, :]  grad_weight (V, D), zeroed by the caller
// T is float or double; I is int32_t or int64_t.
//
// CPU checks every id (ff::Error naming the id and V) and its backward is deterministic (each
// thread owns a range of rows and adds in id order). CUDA does not check ids (an out-of-range
// id reads or writes out of bounds) and its backward uses atomicAdd (order not deterministic).

#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/exec.h"

namespace ff::kernels {

// bf16 tensors are computed in f32 by the op (the backward accumulates).
inline constexpr KernelDTypes kEmbeddingDTypes{.cpu = {DType::F32, DType::F64}, .cuda = {DType::F32, DType::F64}};

namespace cpu {
template <typename T, typename I>
void embedding_forward(Exec, const T* weight, const I* ids, T* out, int64_t n, int64_t V, int64_t D);
template <typename T, typename I>
void embedding_backward(Exec, const T* grad_out, const I* ids, T* grad_weight, int64_t n, int64_t V, int64_t D);
}  // namespace cpu

#ifdef FF_WITH_CUDA
namespace cuda {
template <typename T, typename I>
void embedding_forward(Exec, const T* weight, const I* ids, T* out, int64_t n, int64_t V, int64_t D);
template <typename T, typename I>
void embedding_backward(Exec, const T* grad_out, const I* ids, T* grad_weight, int64_t n, int64_t V, int64_t D);
}  // namespace cuda
#endif

}  // namespace ff::kernels
