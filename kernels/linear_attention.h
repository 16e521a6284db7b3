#pragma once
// Linear attention on raw pointers: the kernels of random-feature Fourier attention
// (docs/kernels.md, "Random-feature Fourier attention"). With a feature map phi whose inner
// products estimate the Fourier kernel, phi(q_i) . phi(k_j) ~ prod_d sinc(R_d (q_id - k_jd))^p,
//
//   out_i = sum_{j<L_i} (phi(q_i) . phi(k_j)) v_j / safe(sum_{j<L_i} phi(q_i) . phi(k_j) + eps)
//
// costs O(N F D) instead of O(N^2 D): the sums over keys are (F, D) and (F) states.
//
// Three launchers:
//   fourier_features: theta (rows, m) -> phi (rows, 2m) = [cos theta, sin theta] / sqrt(m)
//   prefix_attention: out_i = sum_{j<L_i} (a_i . b_j) c_j, the shared core of the forward and
//                     of all three backward products (docs/kernels.md)
//   rf_normalise:     [num, den] rows -> out = num / safe(den + eps), and its backward
//
// The causal prefix L_i = clamp(i + offset + 1, 0, Nb) (offset = Nk - Nq: memory keys, as
// the exact kernel in kernels/attention.h); not causal: L_i = Nb. The prefix sums run over
// chunks of keys: inside a chunk a masked quadratic part, across chunks a running (F, E) state,
// so the work is blocks of outer products, never a serial recurrence over tokens.

#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/exec.h"

namespace ff::kernels {

// Strides of a (heads, N, width) operand in elements; the width dim has stride 1. A negative
// token stride (with the pointer at the last token) reads the tokens in reverse order: the
// backward's key-side products are prefix sums over reversed queries.
struct RowStrides {
  std::int64_t head = 0;
  std::int64_t token = 0;
};

template <typename T>
struct PrefixAttentionParams {
  const T* a = nullptr;  // (heads, Na, F), a_strides
  const T* b = nullptr;  // (heads, Nb, F), b_strides
  const T* c = nullptr;  // (heads, Nb, E), c_strides
  T* out = nullptr;      // (heads, Na, E), out_strides; written
  int heads = 0, Na = 0, Nb = 0, F = 0, E = 0;
  RowStrides a_strides, b_strides, c_strides, out_strides;
  bool causal = false;
  int offset = 0;  // causal: row i sees b, c rows j < clamp(i + offset + 1, 0, Nb)
  // Scratch of prefix_attention_workspace(exec, params) elements (CUDA: the per-chunk states;
  // the CPU needs none).
  T* workspace = nullptr;
};

// Throws ff::Error naming what is wrong. Both backends call it first.
template <typename T>
void check_prefix_attention_params(const PrefixAttentionParams<T>& params);

inline constexpr KernelDTypes kLinearAttentionDTypes{.cpu = {DType::F32, DType::F64}, .cuda = {DType::F32}};

namespace cpu {
// theta: (rows, m) contiguous   phi: (rows, 2m) contiguous
template <typename T>
void fourier_features_forward(Exec, const T* theta, T* phi, std::int64_t rows, int m);
// dtheta_rl = phi_cos dphi_sin - phi_sin dphi_cos (the saved phi carries the 1/sqrt(m)).
template <typename T>
void fourier_features_backward(Exec, const T* phi, const T* dphi, T* dtheta, std::int64_t rows, int m);

template <typename T>
std::int64_t prefix_attention_workspace(Exec, const PrefixAttentionParams<T>& params);
template <typename T>
void prefix_attention(Exec, const PrefixAttentionParams<T>& params);

// num_den: (rows, D + 1) contiguous, [sum_j a_ij v_j, sum_j a_ij]   out: (rows, D)
template <typename T>
void rf_normalise_forward(Exec, const T* num_den, T* out, std::int64_t rows, int D, T eps, T floor);
// dout, out: (rows, D)   grad: (rows, D + 1) = d loss / d num_den; written
template <typename T>
void rf_normalise_backward(Exec, const T* num_den, const T* out, const T* dout, T* grad, std::int64_t rows, int D,
                           T eps, T floor);
}  // namespace cpu

#if defined(FF_WITH_CUDA)
namespace cuda {
template <typename T>
void fourier_features_forward(Exec, const T* theta, T* phi, std::int64_t rows, int m);
template <typename T>
void fourier_features_backward(Exec, const T* phi, const T* dphi, T* dtheta, std::int64_t rows, int m);
template <typename T>
std::int64_t prefix_attention_workspace(Exec, const PrefixAttentionParams<T>& params);
template <typename T>
void prefix_attention(Exec, const PrefixAttentionParams<T>& params);
template <typename T>
void rf_normalise_forward(Exec, const T* num_den, T* out, std::int64_t rows, int D, T eps, T floor);
template <typename T>
void rf_normalise_backward(Exec, const T* num_den, const T* out, const T* dout, T* grad, std::int64_t rows, int D,
                           T eps, T floor);
}  // namespace cuda
#endif

}  // namespace ff::kernels
