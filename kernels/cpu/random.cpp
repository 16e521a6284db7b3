// CPU random fills: OpenMP over blocks of 4 elements, each block one Philox call and one
// transform from kernels/philox.h (the same code the CUDA kernels run).

#include "kernels/random.h"

#include <algorithm>

namespace ff::kernels::cpu {

namespace {

// out: (n,). Block g writes elements 4g .. min(4g + 4, n) - 1.
template <typename T, typename Transform>
void fill(T* out, int64_t n, const Transform& transform, PhiloxState state) {
  FF_CHECK(n >= 0, "random fill: negative length {}", n);
  if (n == 0) return;
  FF_CHECK(out != nullptr, "random fill: null output for {} elements", n);
  const int64_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (blocks > 4096)
  for (int64_t g = 0; g < blocks; ++g) {
    float values[4];
    transform(philox::block_for(state, static_cast<uint64_t>(g)), values);
    const int64_t begin = 4 * g;
    const int count = static_cast<int>(std::min<int64_t>(4, n - begin));
    for (int i = 0; i < count; ++i) out[begin + i] = static_cast<T>(values[i]);
  }
}

}  // namespace

template <typename T>
void uniform(Exec, T* out, int64_t n, float lo, float hi, PhiloxState state) {
  fill(out, n, philox::make_uniform(lo, hi), state);
}

template <typename T>
void normal(Exec, T* out, int64_t n, float mean, float std, PhiloxState state) {
  fill(out, n, philox::make_normal(mean, std), state);
}

template <typename T>
void truncated_normal(Exec, T* out, int64_t n, float mean, float std, float a, float b, PhiloxState state) {
  fill(out, n, philox::make_truncated_normal(mean, std, a, b), state);
}

void bernoulli_mask(Exec, uint8_t* mask, int64_t n, float p_keep, PhiloxState state) {
  fill(mask, n, philox::make_bernoulli(p_keep, 1.0f), state);
}

template <typename T>
void dropout_mask(Exec, T* mask, int64_t n, float p_keep, PhiloxState state) {
  fill(mask, n, philox::make_bernoulli(p_keep, p_keep > 0.0f ? 1.0f / p_keep : 0.0f), state);
}

#define FF_INSTANTIATE(T)                                                                               \
  template void uniform<T>(Exec, T*, int64_t, float, float, PhiloxState);                               \
  template void normal<T>(Exec, T*, int64_t, float, float, PhiloxState);                                \
  template void truncated_normal<T>(Exec, T*, int64_t, float, float, float, float, PhiloxState);        \
  template void dropout_mask<T>(Exec, T*, int64_t, float, PhiloxState);
FF_INSTANTIATE(float)
FF_INSTANTIATE(double)
#undef FF_INSTANTIATE

}  // namespace ff::kernels::cpu
