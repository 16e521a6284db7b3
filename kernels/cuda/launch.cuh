#pragma once
// Launch-shape helpers shared by the CUDA kernels.

#include <algorithm>
#include <cstdint>

namespace ff::kernels::cuda {

constexpr int kBlock = 256;

// Blocks for a grid-stride loop over n elements (capped: each thread loops).
inline unsigned grid_for(int64_t n, int block = kBlock) {
  int64_t blocks = (n + block - 1) / block;
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, 65535LL * 8));
}

}  // namespace ff::kernels::cuda
