#include "kernels/reduce.h"

#include <vector>

namespace ff::kernels::cpu {

template <typename T>
void sum_axis(const T* x, T* y, int64_t outer, int64_t R, int64_t inner) {
  if (inner == 1) {
    // Row sums: 8 independent accumulators let the compiler vectorise the loop.
#pragma omp parallel for schedule(static) if (outer * R > (1 << 15))
    for (int64_t o = 0; o < outer; ++o) {
      const T* row = x + o * R;
      T acc[8] = {};
      int64_t r = 0;
      for (; r + 8 <= R; r += 8)
        for (int l = 0; l < 8; ++l) acc[l] += row[r + l];
      T total = 0;
      for (; r < R; ++r) total += row[r];
      for (int l = 0; l < 8; ++l) total += acc[l];
      y[o] = total;
    }
    return;
  }
  // Column sums: accumulate whole rows of length `inner`.
#pragma omp parallel for schedule(static) if (outer * R * inner > (1 << 15))
  for (int64_t o = 0; o < outer; ++o) {
    T* out = y + o * inner;
    for (int64_t i = 0; i < inner; ++i) out[i] = 0;
    for (int64_t r = 0; r < R; ++r) {
      const T* row = x + (o * R + r) * inner;
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) out[i] += row[i];
    }
  }
}

template void sum_axis<float>(const float*, float*, int64_t, int64_t, int64_t);
template void sum_axis<double>(const double*, double*, int64_t, int64_t, int64_t);

}  // namespace ff::kernels::cpu
