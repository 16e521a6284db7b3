#pragma once
// The CUDA device context: one compute stream, cuBLASLt and cuDNN handles and a workspace per device,
// created on first use. Everything core launches on a device goes to that device's stream, so
// work is ordered without host synchronisation.

#ifdef FF_WITH_CUDA
#include <cublasLt.h>
#include <cuda_runtime.h>

#include "kernels/exec.h"

namespace ff::cuda {

// Makes `index` the current device of this thread and returns its compute stream.
cudaStream_t stream(int device_index);
// What a kernel launcher needs on the device: stream, cuBLASLt and cuDNN handles, workspace
// (kernels/exec.h).
kernels::cuda::Exec exec(int device_index);
// Lets f32 GEMMs use TF32 tensor cores (train.tf32; off by default: f32 results stay f32).
void set_allow_tf32(bool allow);
// Waits for all work queued on the device's stream (for host reads and timing only).
void synchronize(int device_index);

// Host synchronisations (device-to-host reads and explicit waits) since the process started:
// a debug counter, so tests can check that a training step between log intervals makes none.
int64_t host_syncs();
void count_host_sync();

}  // namespace ff::cuda
#endif
