#ifdef FF_WITH_CUDA
#include "core/cuda/context.h"

#include <array>
#include <atomic>
#include <mutex>

#include "kernels/cuda/cuda_check.h"

namespace ff::cuda {
namespace {

constexpr int kMaxDevices = 16;
// cuBLASLt's recommended workspace on Hopper (smaller on older GPUs is fine too); cuDNN's
// convolution algorithms are chosen to fit in it.
constexpr size_t kLtWorkspaceBytes = 32u << 20;

std::atomic<bool> g_allow_tf32{false};
std::atomic<int64_t> g_host_syncs{0};

struct DeviceContext {
  std::once_flag once;
  cudaStream_t stream = nullptr;
  cudaStream_t comm_stream = nullptr;
  cublasLtHandle_t cublaslt = nullptr;
  cudnnHandle_t cudnn = nullptr;
  void* workspace = nullptr;
};

DeviceContext& context(int index) {
  static std::array<DeviceContext, kMaxDevices> contexts;
  FF_CHECK(index >= 0 && index < kMaxDevices, "CUDA device index {} out of range", index);
  DeviceContext& ctx = contexts[index];
  FF_CUDA_CHECK(cudaSetDevice(index));
  std::call_once(ctx.once, [&] {
    FF_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking));
    int lowest = 0, highest = 0;  // numerically, the highest priority is the lowest number
    FF_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&lowest, &highest));
    FF_CUDA_CHECK(cudaStreamCreateWithPriority(&ctx.comm_stream, cudaStreamNonBlocking, highest));
    // Keep freed pool memory for reuse instead of returning it to the driver at every sync.
    cudaMemPool_t pool;
    FF_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, index));
    uint64_t threshold = UINT64_MAX;
    FF_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
    FF_CUBLAS_CHECK(cublasLtCreate(&ctx.cublaslt));
    FF_CUDNN_CHECK(cudnnCreate(&ctx.cudnn));
    FF_CUDNN_CHECK(cudnnSetStream(ctx.cudnn, ctx.stream));
    FF_CUDA_CHECK(cudaMalloc(&ctx.workspace, kLtWorkspaceBytes));
  });
  return ctx;
}

}  // namespace

cudaStream_t stream(int device_index) { return context(device_index).stream; }
cudaStream_t comm_stream(int device_index) { return context(device_index).comm_stream; }

Event::Event(int device_index) : device_(device_index) {
  context(device_index);  // the device is current
  FF_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
}
Event::~Event() {
  if (event_) cudaEventDestroy(event_);  // released once recorded work is done; no throw here
}
Event::Event(Event&& other) noexcept : event_(other.event_), device_(other.device_) { other.event_ = nullptr; }
Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    if (event_) cudaEventDestroy(event_);
    event_ = other.event_;
    device_ = other.device_;
    other.event_ = nullptr;
  }
  return *this;
}
void Event::record(cudaStream_t stream) { FF_CUDA_CHECK(cudaEventRecord(event_, stream)); }
void Event::block(cudaStream_t stream) const { FF_CUDA_CHECK(cudaStreamWaitEvent(stream, event_, 0)); }
bool Event::done() const {
  const cudaError_t status = cudaEventQuery(event_);
  if (status == cudaErrorNotReady) return false;
  FF_CUDA_CHECK(status);
  return true;
}
void Event::synchronize() const {
  count_host_sync();
  FF_CUDA_CHECK(cudaEventSynchronize(event_));
}
kernels::cuda::Exec exec(int device_index) {
  DeviceContext& ctx = context(device_index);
  return {.stream = ctx.stream,
          .cublaslt = ctx.cublaslt,
          .cudnn = ctx.cudnn,
          .workspace = ctx.workspace,
          .workspace_bytes = kLtWorkspaceBytes,
          .allow_tf32 = g_allow_tf32.load(std::memory_order_relaxed)};
}
void set_allow_tf32(bool allow) { g_allow_tf32.store(allow, std::memory_order_relaxed); }
void synchronize(int device_index) {
  count_host_sync();
  FF_CUDA_CHECK(cudaStreamSynchronize(stream(device_index)));
}
int64_t host_syncs() { return g_host_syncs.load(std::memory_order_relaxed); }
void count_host_sync() { g_host_syncs.fetch_add(1, std::memory_order_relaxed); }

}  // namespace ff::cuda
#endif
