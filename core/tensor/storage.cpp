#include "core/tensor/storage.h"

#include <atomic>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

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

// Freed CPU blocks of kMinCached bytes and more are kept by size class and handed to the next
// request of the same class. glibc hands large freed blocks back to the kernel (munmap, or a
// trim of the heap's top), so without this a training step maps much of its activations
// afresh and page-faults on their pages (docs/perf/cpu-allocator.md has the counts). A class is the request
// rounded up to an eighth of its power of two (at most 12.5% more than asked). Blocks beyond
// kCacheLimit cached bytes go back to the system.
class CpuBlockCache {
 public:
  static constexpr size_t kMinCached = size_t(64) << 10;
  static constexpr size_t kCacheLimit = size_t(4) << 30;

  static size_t size_class(size_t request) {
    if (request < kMinCached) return (request + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    const size_t step = std::bit_floor(request) / 8;
    return (request + step - 1) / step * step;
  }

  void* allocate(size_t bytes) {
    if (bytes >= kMinCached) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(bytes);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= bytes;
        return p;
      }
    }
    void* p = std::aligned_alloc(kCpuAlignment, bytes);
    if (!p) {
      release_all();  // what is cached may be what the request needs
      p = std::aligned_alloc(kCpuAlignment, bytes);
      if (!p) throw std::bad_alloc();
    }
    return p;
  }

  void release(void* p, size_t bytes) {
    if (bytes >= kMinCached) {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_ + bytes <= kCacheLimit) {
        free_[bytes].push_back(p);
        cached_ += bytes;
        return;
      }
    }
    std::free(p);
  }

  void release_all() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [bytes, blocks] : free_) {
      for (void* p : blocks) std::free(p);
    }
    free_.clear();
    cached_ = 0;
  }

  size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return cached_;
  }

 private:
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

CpuBlockCache& cpu_cache() {
  static CpuBlockCache* cache = new CpuBlockCache();  // never destroyed: storages outlive statics
  return *cache;
}

}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  size_t request = nbytes == 0 ? kCpuAlignment : nbytes;
  if (device.is_cpu()) {
    data_ = cpu_cache().allocate(CpuBlockCache::size_class(request));
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
    cpu_cache().release(data_, CpuBlockCache::size_class(nbytes_ == 0 ? kCpuAlignment : nbytes_));
  } else {
#ifdef FF_WITH_CUDA
    cudaFreeAsync(data_, cuda::stream(device_.index));  // no throw from a destructor
#endif
  }
}

MemoryStats memory_stats(Device device) {
  Counters& c = counters(device);
  return {c.current.load(), c.peak.load(), device.is_cpu() ? cpu_cache().cached_bytes() : 0};
}

void release_cached_memory() { cpu_cache().release_all(); }

void reset_peak_memory(Device device) {
  Counters& c = counters(device);
  c.peak.store(c.current.load());
}

}  // namespace ff
