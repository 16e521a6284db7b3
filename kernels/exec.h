#pragma once
// Where a kernel runs. Every launcher takes its backend's Exec as its first argument, and the
// CPU and CUDA launchers of a family have the same name and the same other parameters:
//
//   kernels::cpu::softmax_forward<T>(cpu::Exec, x, y, rows, D, log)
//   kernels::cuda::softmax_forward<T>(cuda::Exec, x, y, rows, D, log)
//
// so an op writes the call once, without a namespace, and argument-dependent lookup picks the
// launcher from the Exec that core/ops/dispatch.h hands it.

#include <cstddef>

#ifdef FF_WITH_CUDA
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#endif

namespace ff::kernels {

namespace cpu {
struct Exec {};
}  // namespace cpu

#ifdef FF_WITH_CUDA
namespace cuda {
// The device's stream (every kernel and library call is ordered on it), the cuBLASLt and cuDNN
// handles (bound to that stream). workspace: scratch memory for cuBLASLt and cuDNN, owned by the
// device context; calls on one stream use it one after another.
// A default-constructed Exec runs on the legacy default stream without handles (tests of
// kernels that need neither).
struct Exec {
  cudaStream_t stream = nullptr;
  cublasLtHandle_t cublaslt = nullptr;
  cudnnHandle_t cudnn = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  bool allow_tf32 = false;  // f32 GEMMs may round their inputs to TF32 on tensor cores
};
}  // namespace cuda
#endif

}  // namespace ff::kernels
