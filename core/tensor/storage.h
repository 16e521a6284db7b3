#pragma once
// A block of device memory shared by the tensors that view it.
//   CPU: 64-byte aligned (AVX-512 loads never straddle lines); freed blocks of 64 KiB and more
//   are cached by size class for reuse (storage.cpp), so a steady training step maps no pages.
//   CUDA: the runtime's stream-ordered pool (cudaMallocAsync on the current stream), whose
//   release threshold is raised at start-up so freed blocks are reused, not returned.

#include <cstddef>
#include <memory>

#include "core/tensor/device.h"

namespace ff {

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
};

// Bytes currently held by live CPU / CUDA storages, the peak since the last reset, and (CPU)
// the bytes of freed blocks kept for reuse, which `current` does not count.
struct MemoryStats {
  size_t current = 0;
  size_t peak = 0;
  size_t cached = 0;
};
MemoryStats memory_stats(Device device);
void reset_peak_memory(Device device);
// Returns the cached free CPU blocks to the system.
void release_cached_memory();

}  // namespace ff
