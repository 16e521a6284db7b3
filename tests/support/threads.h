#pragma once
// Test helpers for the multi-threaded CPU kernels: a scoped OpenMP thread count and random
// float inputs.

#include <omp.h>

#include <cstdint>
#include <random>
#include <vector>

namespace ff::testing {

// Sets OpenMP's thread count for the scope, so a test splits its work the same way on any
// machine.
struct ScopedThreads {
  int saved = omp_get_max_threads();
  explicit ScopedThreads(int n) { omp_set_num_threads(n); }
  ~ScopedThreads() { omp_set_num_threads(saved); }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;
};

// n floats uniform in [lo, hi), from a fixed seed.
inline std::vector<float> uniform_floats(int64_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

}  // namespace ff::testing
