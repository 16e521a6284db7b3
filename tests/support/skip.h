#pragma once
// CUDA tests run where a GPU is present and are reported as skipped elsewhere: ctest's
// SKIP_REGULAR_EXPRESSION matches the "FF_SKIP" line this prints.

#include <iostream>

#include "kernels/device_query.h"

#define FF_REQUIRE_CUDA()                                                                 \
  do {                                                                                    \
    if (::ff::kernels::cuda_device_count() == 0) {                                        \
      std::cout << "FF_SKIP: no CUDA device (" << ::ff::kernels::cuda_unavailable_reason() \
                << ")" << std::endl;                                                      \
      return;                                                                             \
    }                                                                                     \
  } while (0)
