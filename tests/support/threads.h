#pragma once
// A scoped OpenMP thread count, for tests of the multi-threaded CPU kernels.

#include <omp.h>

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

}  // namespace ff::testing
