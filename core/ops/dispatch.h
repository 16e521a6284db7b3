#pragma once
// Helpers for ops that pick a CPU or CUDA kernel from the tensors' device.

#include "core/tensor/tensor.h"

#ifdef FF_WITH_CUDA
#include "core/cuda/context.h"
#endif

namespace ff::detail {
[[noreturn]] void throw_no_cuda();
}  // namespace ff::detail

// FF_CUDA_CALL(kernels::cuda::f(args, FF_STREAM(t))): the call in a CUDA build, an error naming
// the missing backend otherwise.
#ifdef FF_WITH_CUDA
#define FF_CUDA_CALL(...) __VA_ARGS__
#define FF_STREAM(tensor) ::ff::cuda::stream((tensor).device().index)
#else
#define FF_CUDA_CALL(...) ::ff::detail::throw_no_cuda()
#define FF_STREAM(tensor) nullptr
#endif

namespace ff {

// Checks that every defined tensor is on `device` (ops never move data implicitly).
void check_same_device(const char* op, std::initializer_list<const Tensor*> tensors);
// Checks that every defined tensor has `dtype`.
void check_same_dtype(const char* op, std::initializer_list<const Tensor*> tensors);

}  // namespace ff
