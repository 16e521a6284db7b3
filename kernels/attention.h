#pragma once
// Fused attention on raw pointers: scores -> online softmax over keys -> weighted sum of
// values, tiled so the (Nq, Nk) matrix never exists in memory (O(N) extra memory per head).
// One skeleton, two score functions (docs/kernels.md has the derivation):
//
//   Dot:      s_ij = scale * (q_i . k_j)                              (scale = 1/sqrt(D))
//   Fourier:  s_ij = p * sum_d log|sinc(R_d (q_id - k_jd))|,  sinc(x) = sin(x)/x, sinc(0) = 1
//
// Normalised over keys, the Fourier score equals the paper's Nadaraya-Watson weights
//   prod_d sinc(R_d (q_id - k_jd))^p / (sum_j prod_d sinc(...)^p + eps)
// where the "+ eps" of the denominator is one extra key with score log(eps) and value 0.
//
// Shapes (strides are in elements; the last dim of every tensor is contiguous):
//   q: (B, H, Nq, D)   k, v: (B, H, Nk, D)   out: (B, H, Nq, D)
//   lse: (B, H, Nq) contiguous   probs: (B, H, Nq, Nk) contiguous (optional)
// A (B, N, H, D) projection is used without a copy by passing bnhd_strides(H, N, D).
//
// Causal masking: query i sees keys j <= i + (Nk - Nq), so with Nk > Nq the first Nk - Nq
// keys are memory (Transformer-XL segment memory) visible to every query. A query that sees
// no key (Nk < Nq, or every weight zero and eps = 0) gets out = 0, lse = -inf, zero gradients.

#include <cmath>
#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/exec.h"

namespace ff::kernels {

enum class AttentionScore { Dot, Fourier };

// Strides of one (B, H, N, D) operand, in elements; the D dimension has stride 1.
struct AttentionStrides {
  std::int64_t batch = 0;
  std::int64_t head = 0;
  std::int64_t token = 0;
};

// Contiguous (B, H, N, D).
inline AttentionStrides bhnd_strides(int H, int N, int D) {
  return {std::int64_t(H) * N * D, std::int64_t(N) * D, D};
}
// Contiguous (B, N, H, D) viewed as (B, H, N, D): the layout a (B*N, H*D) projection has.
inline AttentionStrides bnhd_strides(int H, int N, int D) {
  return {std::int64_t(N) * H * D, D, std::int64_t(H) * D};
}

template <typename T>
struct AttentionParams {
  const T* q = nullptr;  // (B, H, Nq, D), q_strides
  const T* k = nullptr;  // (B, H, Nk, D), k_strides
  const T* v = nullptr;  // (B, H, Nk, D), v_strides
  T* out = nullptr;      // (B, H, Nq, D), out_strides; written
  T* lse = nullptr;      // (B, H, Nq) contiguous: log-sum-exp of each row's scores (including
                         // the eps key), written; the backward needs it
  T* probs = nullptr;    // (B, H, Nq, Nk) contiguous normalised weights (0 where masked), or
                         // null; only for analysis (head redundancy), costs a second pass

  int B = 0, H = 0, Nq = 0, Nk = 0, D = 0;
  AttentionStrides q_strides, k_strides, v_strides, out_strides;

  bool causal = false;
  AttentionScore score = AttentionScore::Dot;

  // Dot score.
  T scale = T(0);  // usually 1/sqrt(D)

  // Fourier score.
  const T* R = nullptr;    // 1 value, or D values when R_per_dim; on the kernel's device
  bool R_per_dim = false;
  int p = 4;               // even power of sinc
  T eps = T(1e-6);         // >= 0; 0 means no extra key. Ignored by the dot score.
};

template <typename T>
struct AttentionBackwardParams {
  // The forward's inputs and options; fwd.out and fwd.lse are the forward's saved results.
  // fwd.probs is ignored.
  AttentionParams<T> fwd;

  const T* dout = nullptr;  // (B, H, Nq, D), dout_strides
  T* dq = nullptr;          // (B, H, Nq, D), dq_strides; written
  T* dk = nullptr;          // (B, H, Nk, D), dk_strides; written
  T* dv = nullptr;          // (B, H, Nk, D), dv_strides; written
  AttentionStrides dout_strides, dq_strides, dk_strides, dv_strides;

  // Fourier only: gradient of R (1 or D values like fwd.R), ADDED to what is there.
  // May be null when R's gradient is not needed.
  T* dR = nullptr;
};

// Checks sizes, pointers and options; throws ff::Error naming what is wrong. Both backends
// call it first.
template <typename T>
void check_attention_params(const AttentionParams<T>& params);
template <typename T>
void check_attention_backward_params(const AttentionBackwardParams<T>& params);

// bf16 tensors are computed in f32 by the op.
inline constexpr KernelDTypes kAttentionDTypes{.cpu = {DType::F32, DType::F64}, .cuda = {DType::F32}};

namespace cpu {
template <typename T>
void attention_forward(Exec, const AttentionParams<T>& params);
template <typename T>
void attention_backward(Exec, const AttentionBackwardParams<T>& params);
}  // namespace cpu

#if defined(FF_WITH_CUDA)
namespace cuda {
template <typename T>
void attention_forward(Exec, const AttentionParams<T>& params);
template <typename T>
void attention_backward(Exec, const AttentionBackwardParams<T>& params);
}  // namespace cuda
#endif

}  // namespace ff::kernels
