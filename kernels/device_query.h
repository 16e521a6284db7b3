#pragma once
// Which accelerators this process can use. Without a CUDA build, or without a driver (the
// runtime's first call then fails with "driver version is insufficient"), there is no GPU:
// that is an answer, not an error.

#include <string>

namespace ff::kernels {

// Number of usable CUDA devices; 0 when built without CUDA or when no driver/device is present.
int cuda_device_count();

// Why there is no GPU ("built without CUDA", the runtime's message), or "" when there is one.
std::string cuda_unavailable_reason();

}  // namespace ff::kernels
