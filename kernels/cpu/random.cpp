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

void uniform(float* out, int64_t n, float lo, float hi, PhiloxState state) {
  fill(out, n, philox::make_uniform(lo, hi), state);
}
void uniform(double* out, int64_t n, float lo, float hi, PhiloxState state) {
  fill(out, n, philox::make_uniform(lo, hi), state);
}

void normal(float* out, int64_t n, float mean, float std, PhiloxState state) {
  fill(out, n, philox::make_normal(mean, std), state);
}
void normal(double* out, int64_t n, float mean, float std, PhiloxState state) {
  fill(out, n, philox::make_normal(mean, std), state);
}

void truncated_normal(float* out, int64_t n, float mean, float std, float a, float b, PhiloxState state) {
  fill(out, n, philox::make_truncated_normal(mean, std, a, b), state);
}
void truncated_normal(double* out, int64_t n, float mean, float std, float a, float b, PhiloxState state) {
  fill(out, n, philox::make_truncated_normal(mean, std, a, b), state);
}

void bernoulli_mask(uint8_t* mask, int64_t n, float p_keep, PhiloxState state) {
  fill(mask, n, philox::make_bernoulli(p_keep, 1.0f), state);
}

void dropout_mask(float* mask, int64_t n, float p_keep, PhiloxState state) {
  fill(mask, n, philox::make_bernoulli(p_keep, p_keep > 0.0f ? 1.0f / p_keep : 0.0f), state);
}
void dropout_mask(double* mask, int64_t n, float p_keep, PhiloxState state) {
  fill(mask, n, philox::make_bernoulli(p_keep, p_keep > 0.0f ? 1.0f / p_keep : 0.0f), state);
}

}  // namespace ff::kernels::cpu
