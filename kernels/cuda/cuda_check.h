#pragma once
// Status checks for every CUDA runtime, cuBLAS, cuDNN and NCCL call: a failure throws
// ff::Error naming the call, the file and line, and the library's message.

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "kernels/common.h"

namespace ff::detail {
[[noreturn]] inline void throw_cuda(const char* file, int line, const char* call, const char* what) {
  throw Error(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " + what);
}
}  // namespace ff::detail

#define FF_CUDA_CHECK(call)                                                         \
  do {                                                                              \
    cudaError_t ff_status_ = (call);                                                \
    if (ff_status_ != cudaSuccess) [[unlikely]]                                     \
      ::ff::detail::throw_cuda(__FILE__, __LINE__, #call, cudaGetErrorString(ff_status_)); \
  } while (0)

#define FF_CUBLAS_CHECK(call)                                                               \
  do {                                                                                      \
    cublasStatus_t ff_status_ = (call);                                                     \
    if (ff_status_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                                   \
      ::ff::detail::throw_cuda(__FILE__, __LINE__, #call, cublasGetStatusString(ff_status_)); \
  } while (0)

#define FF_CUDNN_CHECK(call)                                                              \
  do {                                                                                    \
    cudnnStatus_t ff_status_ = (call);                                                    \
    if (ff_status_ != CUDNN_STATUS_SUCCESS) [[unlikely]]                                  \
      ::ff::detail::throw_cuda(__FILE__, __LINE__, #call, cudnnGetErrorString(ff_status_)); \
  } while (0)

// After a kernel launch: reports launch-configuration errors without synchronising.
#define FF_CUDA_CHECK_LAUNCH() FF_CUDA_CHECK(cudaGetLastError())
