// CPU linear attention (kernels/linear_attention.h): prefix_attention keeps one running (F, E)
// state per head and walks the keys chunk by chunk; each row of a reads the state at the last
// chunk boundary it has fully passed and adds its at most 2 * kChunk remaining keys directly.
// Parallel over heads (batch x head); the other launchers are parallel over rows.

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/linear_attention.h"
#include "kernels/linear_attention_math.h"

namespace ff::kernels {

template <typename T>
void check_prefix_attention_params(const PrefixAttentionParams<T>& p) {
  FF_CHECK(p.heads >= 0 && p.Na >= 0 && p.Nb >= 0, "prefix attention: sizes must be non-negative, got heads={} Na={} Nb={}",
           p.heads, p.Na, p.Nb);
  FF_CHECK(p.F >= 1 && p.E >= 1, "prefix attention: widths must be >= 1, got F={} E={}", p.F, p.E);
  if (p.heads == 0 || p.Na == 0) return;
  FF_CHECK(p.a && p.out, "prefix attention: a and out must not be null");
  FF_CHECK(p.Nb == 0 || (p.b && p.c), "prefix attention: b and c must not be null when Nb > 0");
  FF_CHECK(p.out_strides.token >= p.E || p.out_strides.token <= -p.E || p.Na == 1,
           "prefix attention: out token stride {} is smaller than E={} (rows would overlap)", p.out_strides.token, p.E);
}

template void check_prefix_attention_params<float>(const PrefixAttentionParams<float>&);
template void check_prefix_attention_params<double>(const PrefixAttentionParams<double>&);

namespace cpu {
namespace {

namespace lm = linear_attention_math;

// Keys per state update and rows of a per block. A row costs F * E for the state plus up to
// 2 * kChunk direct keys of F + E each, so kChunk near E (a head dim + 1) balances the two.
constexpr int kChunk = 16;

}  // namespace

template <typename T>
void fourier_features_forward(Exec, const T* theta, T* phi, std::int64_t rows, int m) {
  const T scale = T(1 / std::sqrt(double(m)));
#pragma omp parallel for schedule(static) if (rows * m > (1 << 14))
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* x = theta + r * m;
    T* c = phi + r * 2 * m;
    T* s = c + m;
    for (int l = 0; l < m; ++l) {
      lm::feature_sincos(x[l], s[l], c[l]);
      s[l] *= scale;
      c[l] *= scale;
    }
  }
}

template <typename T>
void fourier_features_backward(Exec, const T* phi, const T* dphi, T* dtheta, std::int64_t rows, int m) {
#pragma omp parallel for schedule(static) if (rows * m > (1 << 14))
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* c = phi + r * 2 * m;
    const T* s = c + m;
    const T* dc = dphi + r * 2 * m;
    const T* ds = dc + m;
    T* d = dtheta + r * m;
#pragma omp simd
    for (int l = 0; l < m; ++l) d[l] = c[l] * ds[l] - s[l] * dc[l];
  }
}

template <typename T>
std::int64_t prefix_attention_workspace(Exec, const PrefixAttentionParams<T>&) {
  return 0;
}

template <typename T>
void prefix_attention(Exec, const PrefixAttentionParams<T>& p) {
  check_prefix_attention_params(p);
  if (p.heads == 0 || p.Na == 0) return;
  const int F = p.F, E = p.E;
#pragma omp parallel
  {
    std::vector<T> state(std::size_t(F) * E);
#pragma omp for schedule(dynamic, 1)
    for (int h = 0; h < p.heads; ++h) {
      const T* a = p.a + h * p.a_strides.head;
      const T* b = p.b + h * p.b_strides.head;
      const T* c = p.c + h * p.c_strides.head;
      T* out = p.out + h * p.out_strides.head;
      std::fill(state.begin(), state.end(), T(0));
      int state_end = 0;  // state = sum_{j < state_end} b_j c_j^T; a multiple of kChunk
      for (int i0 = 0; i0 < p.Na; i0 += kChunk) {
        const int target = lm::prefix_limit(p.causal, i0, p.offset, p.Nb) / kChunk * kChunk;
        for (; state_end < target; ++state_end) {
          const T* bj = b + state_end * p.b_strides.token;
          const T* cj = c + state_end * p.c_strides.token;
          for (int f = 0; f < F; ++f) {
            const T bf = bj[f];
            T* __restrict sf = state.data() + std::size_t(f) * E;
#pragma omp simd
            for (int e = 0; e < E; ++e) sf[e] += bf * cj[e];
          }
        }
        const int i1 = std::min(i0 + kChunk, p.Na);
        for (int i = i0; i < i1; ++i) {
          const T* ai = a + i * p.a_strides.token;
          T* __restrict oi = out + i * p.out_strides.token;
          std::fill(oi, oi + E, T(0));
          for (int f = 0; f < F; ++f) {
            const T af = ai[f];
            const T* __restrict sf = state.data() + std::size_t(f) * E;
#pragma omp simd
            for (int e = 0; e < E; ++e) oi[e] += af * sf[e];
          }
          // The keys past the state's chunk boundary: fewer than 2 * kChunk.
          const int L = lm::prefix_limit(p.causal, i, p.offset, p.Nb);
          for (int j = state_end; j < L; ++j) {
            const T* bj = b + j * p.b_strides.token;
            const T* cj = c + j * p.c_strides.token;
            T dot = 0;
#pragma omp simd reduction(+ : dot)
            for (int f = 0; f < F; ++f) dot += ai[f] * bj[f];
#pragma omp simd
            for (int e = 0; e < E; ++e) oi[e] += dot * cj[e];
          }
        }
      }
    }
  }
}

template <typename T>
void rf_normalise_forward(Exec, const T* num_den, T* out, std::int64_t rows, int D, T eps, T floor) {
#pragma omp parallel for schedule(static) if (rows * D > (1 << 15))
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* nd = num_den + r * (D + 1);
    const T inv = T(1) / lm::safe_denominator(nd[D] + eps, floor);
    T* o = out + r * D;
    for (int d = 0; d < D; ++d) o[d] = nd[d] * inv;
  }
}

// out = num / s, s = safe(den + eps): d num = dout / s, d den = -(dout . out) / s * safe'.
template <typename T>
void rf_normalise_backward(Exec, const T* num_den, const T* out, const T* dout, T* grad, std::int64_t rows, int D,
                           T eps, T floor) {
#pragma omp parallel for schedule(static) if (rows * D > (1 << 15))
  for (std::int64_t r = 0; r < rows; ++r) {
    const T den = num_den[r * (D + 1) + D] + eps;
    const T inv = T(1) / lm::safe_denominator(den, floor);
    const T* o = out + r * D;
    const T* g = dout + r * D;
    T* gr = grad + r * (D + 1);
    T go = 0;
    for (int d = 0; d < D; ++d) {
      gr[d] = g[d] * inv;
      go += g[d] * o[d];
    }
    gr[D] = -go * inv * lm::safe_denominator_slope(den, floor);
  }
}

#define FF_INSTANTIATE(T)                                                                                        \
  template void fourier_features_forward<T>(Exec, const T*, T*, std::int64_t, int);                             \
  template void fourier_features_backward<T>(Exec, const T*, const T*, T*, std::int64_t, int);                  \
  template std::int64_t prefix_attention_workspace<T>(Exec, const PrefixAttentionParams<T>&);                  \
  template void prefix_attention<T>(Exec, const PrefixAttentionParams<T>&);                                     \
  template void rf_normalise_forward<T>(Exec, const T*, T*, std::int64_t, int, T, T);                           \
  template void rf_normalise_backward<T>(Exec, const T*, const T*, const T*, T*, std::int64_t, int, T, T);
FF_INSTANTIATE(float)
FF_INSTANTIATE(double)
#undef FF_INSTANTIATE

}  // namespace cpu
}  // namespace ff::kernels
