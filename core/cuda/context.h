#pragma once
// The CUDA device context: one compute stream and one cuBLAS(Lt) handle per device, created on
// first use. Everything core launches on a device goes to that device's stream, so work is
// ordered without host synchronisation.

#ifdef FF_WITH_CUDA
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace ff::cuda {

// Makes `index` the current device of this thread and returns its compute stream.
cudaStream_t stream(int device_index);
cublasHandle_t cublas_handle(int device_index);
cublasLtHandle_t cublaslt_handle(int device_index);
// Waits for all work queued on the device's stream (for host reads and timing only).
void synchronize(int device_index);

}  // namespace ff::cuda
#endif
