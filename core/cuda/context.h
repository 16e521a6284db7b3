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
// The device's communication stream (NCCL collectives, core/dist): high priority, so that a
// bucket's all-reduce starts as soon as its gradients are ready while the backward pass goes on
// on the compute stream. The two are ordered only through Events. Memory that a collective
// reads or writes must stay alive until the compute stream has waited for the collective's
// event: storage is freed stream-ordered on the compute stream, so a free queued after that
// wait cannot overtake the collective.
cudaStream_t comm_stream(int device_index);
// What a kernel launcher needs on the device: stream, cuBLASLt and cuDNN handles, workspace
// (kernels/exec.h).
kernels::cuda::Exec exec(int device_index);
// Lets f32 GEMMs use TF32 tensor cores (train.tf32; off by default: f32 results stay f32).
void set_allow_tf32(bool allow);
// Waits for all work queued on the device's stream (for host reads and timing only).
void synchronize(int device_index);

// A CUDA event without timing, to order one stream after work queued on another:
//   Event done(device); done.record(comm_stream(device)); done.block(stream(device));
class Event {
 public:
  explicit Event(int device_index);
  ~Event();
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // Marks the point reached by `stream`'s queued work.
  void record(cudaStream_t stream);
  // Makes `stream` wait (on the device, not the host) until the recorded point is done.
  void block(cudaStream_t stream) const;
  // Whether the recorded work is done; never waits.
  bool done() const;
  // Waits on the host (counted as a host synchronisation).
  void synchronize() const;
  int device() const { return device_; }

 private:
  cudaEvent_t event_ = nullptr;
  int device_ = 0;
};

// Host synchronisations (device-to-host reads and explicit waits) since the process started:
// a debug counter, so tests can check that a training step between log intervals makes none.
int64_t host_syncs();
void count_host_sync();

}  // namespace ff::cuda
#endif
