#pragma once
// CPU seconds (user + system) this process has used, for the on-demand timings ([.bench]
// tests): on a shared machine wall time also counts the time other processes held the cores.

#include <sys/resource.h>

namespace ff::testing {

inline double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

}  // namespace ff::testing
