#include "kernels/device_query.h"

#ifdef FF_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace ff::kernels {

namespace {
struct Probe {
  int count = 0;
  std::string reason;
};

const Probe& probe() {
  static const Probe result = [] {
    Probe p;
#ifdef FF_WITH_CUDA
    cudaError_t status = cudaGetDeviceCount(&p.count);
    if (status != cudaSuccess) {
      p.count = 0;
      p.reason = cudaGetErrorString(status);
      cudaGetLastError();  // clear the sticky error so later queries start clean
    } else if (p.count == 0) {
      p.reason = "no CUDA device found";
    }
#else
    p.reason = "built without CUDA";
#endif
    return p;
  }();
  return result;
}
}  // namespace

int cuda_device_count() { return probe().count; }

std::string cuda_unavailable_reason() { return probe().reason; }

}  // namespace ff::kernels
