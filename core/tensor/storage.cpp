#include "core/tensor/storage.h"

#include <atomic>
#include <cstdlib>
#include <new>

#include "kernels/common.h"

#ifdef FF_WITH_CUDA
#include "core/cuda/context.h"
#include "kernels/cuda/cuda_check.h"
#endif

namespace ff {
namespace {

constexpr size_t kCpuAlignment = 64;

struct Counters {
  std::atomic<size_t> current{0};
  std::atomic<size_t> peak{0};
};

Counters& counters(Device device) {
  static Counters cpu;
  static Counters cuda[16];
  return device.is_cpu() ? cpu : cuda[device.index & 15];
}

void count_alloc(Device device, size_t nbytes) {
  Counters& c = counters(device);
  size_t now = c.current.fetch_add(nbytes) + nbytes;
  size_t peak = c.peak.load();
  while (now > peak && !c.peak.compare_exchange_weak(peak, now)) {
  }
}

}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  size_t request = nbytes == 0 ? kCpuAlignment : nbytes;
  if (device.is_cpu()) {
    size_t rounded = (request + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    data_ = std::aligned_alloc(kCpuAlignment, rounded);
    if (!data_) throw std::bad_alloc();
  } else {
#ifdef FF_WITH_CUDA
    FF_CUDA_CHECK(cudaMallocAsync(&data_, request, cuda::stream(device.index)));
#else
    throw Error("cannot allocate on " + device.str() + ": built without CUDA");
#endif
  }
  count_alloc(device, nbytes);
}

Storage::~Storage() {
  counters(device_).current.fetch_sub(nbytes_);
  if (device_.is_cpu()) {
    std::free(data_);
  } else {
#ifdef FF_WITH_CUDA
    cudaFreeAsync(data_, cuda::stream(device_.index));  // no throw from a destructor
#endif
  }
}

MemoryStats memory_stats(Device device) {
  Counters& c = counters(device);
  return {c.current.load(), c.peak.load()};
}

void reset_peak_memory(Device device) {
  Counters& c = counters(device);
  c.peak.store(c.current.load());
}

}  // namespace ff
