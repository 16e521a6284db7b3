#ifdef FF_WITH_CUDA
#include "core/cuda/context.h"

#include <array>
#include <mutex>

#include "kernels/cuda/cuda_check.h"

namespace ff::cuda {
namespace {

constexpr int kMaxDevices = 16;

struct DeviceContext {
  std::once_flag once;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cublasLtHandle_t cublaslt = nullptr;
};

DeviceContext& context(int index) {
  static std::array<DeviceContext, kMaxDevices> contexts;
  FF_CHECK(index >= 0 && index < kMaxDevices, "CUDA device index {} out of range", index);
  DeviceContext& ctx = contexts[index];
  FF_CUDA_CHECK(cudaSetDevice(index));
  std::call_once(ctx.once, [&] {
    FF_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking));
    // Keep freed pool memory for reuse instead of returning it to the driver at every sync.
    cudaMemPool_t pool;
    FF_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, index));
    uint64_t threshold = UINT64_MAX;
    FF_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
    FF_CUBLAS_CHECK(cublasCreate(&ctx.cublas));
    FF_CUBLAS_CHECK(cublasSetStream(ctx.cublas, ctx.stream));
    FF_CUBLAS_CHECK(cublasLtCreate(&ctx.cublaslt));
  });
  return ctx;
}

}  // namespace

cudaStream_t stream(int device_index) { return context(device_index).stream; }
cublasHandle_t cublas_handle(int device_index) { return context(device_index).cublas; }
cublasLtHandle_t cublaslt_handle(int device_index) { return context(device_index).cublaslt; }
void synchronize(int device_index) { FF_CUDA_CHECK(cudaStreamSynchronize(stream(device_index))); }

}  // namespace ff::cuda
#endif
