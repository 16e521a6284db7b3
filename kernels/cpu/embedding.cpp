#include "kernels/embedding.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/common.h"

namespace ff::kernels::cpu {

template <typename T, typename I>
void embedding_forward(Exec, const T* weight, const I* ids, T* out, int64_t n, int64_t V, int64_t D) {
  for (int64_t i = 0; i < n; ++i) {
    int64_t id = static_cast<int64_t>(ids[i]);
    FF_CHECK(id >= 0 && id < V, "embedding: id {} (at position {}) out of range for a table of V = {} rows", id, i, V);
  }
#pragma omp parallel for schedule(static) if (n * D > (1 << 16))
  for (int64_t i = 0; i < n; ++i) std::memcpy(out + i * D, weight + static_cast<int64_t>(ids[i]) * D, D * sizeof(T));
}

template <typename T, typename I>
void embedding_backward(Exec, const T* grad_out, const I* ids, T* grad_weight, int64_t n, int64_t V, int64_t D) {
  for (int64_t i = 0; i < n; ++i) {
    int64_t id = static_cast<int64_t>(ids[i]);
    FF_CHECK(id >= 0 && id < V, "embedding backward: id {} (at position {}) out of range for V = {} rows", id, i, V);
  }
  // Each thread owns a contiguous range of rows and adds its rows' contributions in id order:
  // the result does not depend on the thread count or schedule.
#pragma omp parallel if (n * D > (1 << 16))
  {
    int threads = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t per = (V + threads - 1) / threads;
    int64_t lo = std::min<int64_t>(V, t * per), hi = std::min<int64_t>(V, lo + per);
    for (int64_t i = 0; i < n; ++i) {
      int64_t id = static_cast<int64_t>(ids[i]);
      if (id < lo || id >= hi) continue;
      T* dst = grad_weight + id * D;
      const T* src = grad_out + i * D;
      for (int64_t d = 0; d < D; ++d) dst[d] += src[d];
    }
  }
}

#define FF_INSTANTIATE(T, I)                                                                     \
  template void embedding_forward<T, I>(Exec, const T*, const I*, T*, int64_t, int64_t, int64_t); \
  template void embedding_backward<T, I>(Exec, const T*, const I*, T*, int64_t, int64_t, int64_t);
FF_INSTANTIATE(float, int32_t)
FF_INSTANTIATE(float, int64_t)
FF_INSTANTIATE(double, int32_t)
FF_INSTANTIATE(double, int64_t)
#undef FF_INSTANTIATE

}  // namespace ff::kernels::cpu
