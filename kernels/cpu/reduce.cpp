#include "kernels/reduce.h"

#include <type_traits>
#include <vector>

namespace ff::kernels::cpu {

template <typename T>
void sum_axis(Exec, const T* x, T* y, int64_t outer, int64_t R, int64_t inner) {
  using C = compute_t<T>;
  if (inner == 1) {
    // Row sums: 8 independent accumulators let the compiler vectorise the loop.
#pragma omp parallel for schedule(static) if (outer * R > (1 << 15))
    for (int64_t o = 0; o < outer; ++o) {
      const T* row = x + o * R;
      C acc[8] = {};
      int64_t r = 0;
      for (; r + 8 <= R; r += 8)
        for (int l = 0; l < 8; ++l) acc[l] += widen(row[r + l]);
      C total = 0;
      for (; r < R; ++r) total += widen(row[r]);
      for (int l = 0; l < 8; ++l) total += acc[l];
      y[o] = narrow<T>(total);
    }
    return;
  }
  // Column sums: accumulate whole rows of length `inner` (in a compute-type row for bf16).
#pragma omp parallel for schedule(static) if (outer * R * inner > (1 << 15))
  for (int64_t o = 0; o < outer; ++o) {
    std::vector<C> wide(std::is_same_v<C, T> ? 0 : inner);
    C* out = std::is_same_v<C, T> ? reinterpret_cast<C*>(y + o * inner) : wide.data();
    for (int64_t i = 0; i < inner; ++i) out[i] = 0;
    for (int64_t r = 0; r < R; ++r) {
      const T* row = x + (o * R + r) * inner;
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) out[i] += widen(row[i]);
    }
    if constexpr (!std::is_same_v<C, T>)
      for (int64_t i = 0; i < inner; ++i) y[o * inner + i] = narrow<T>(out[i]);
  }
}

template void sum_axis<float>(Exec, const float*, float*, int64_t, int64_t, int64_t);
template void sum_axis<double>(Exec, const double*, double*, int64_t, int64_t, int64_t);
template void sum_axis<BFloat16>(Exec, const BFloat16*, BFloat16*, int64_t, int64_t, int64_t);

}  // namespace ff::kernels::cpu
