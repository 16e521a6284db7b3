#pragma once
// CUDA fused attention: kernel templates, included only by the per-head-dim instantiation files
// (attention_d*.cu). One skeleton, two score policies (RowScore<.., kFourier>); the scalar math
// is attention_math.h, shared with the CPU loops.
//
// Layout of work: a block of 128 threads owns kRows "rows" (queries in the forward and the dq
// pass, keys in the dk/dv pass); each row is split over kS consecutive threads that hold kDT
// of its kD dims in registers and combine partial scores with warp shuffles. The other side
// (keys, or queries) streams through shared memory in tiles of kCols tokens; for the Fourier
// score a tile also holds sin and cos of R * x, computed once per tile. The (Nq, Nk) matrix
// never exists: the forward keeps an online softmax per row, the backward recomputes the
// weights from the saved log-sum-exp (FlashAttention's scheme). The backward is two passes
// without atomics on dq/dk/dv: dq by query rows, then dk and dv by key rows.
//
// kD is a compile-time bound: D < kD runs zero-padded (a zero dim adds log sinc(0) = 0 to the
// Fourier score and 0 to the dot score, so padding is exact).

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/attention_math.h"
#include "kernels/cuda/cuda_check.h"

namespace ff::kernels::cuda::detail {

namespace am = ff::kernels::attention_math;

template <int kD>
struct AttentionTraits {
  static constexpr int kS = kD <= 16 ? 1 : kD <= 32 ? 2 : kD <= 64 ? 4 : kD / 16;  // threads/row
  static constexpr int kDT = kD / kS;                                            // dims/thread
  static constexpr int kThreads = 128;
  static constexpr int kRows = kThreads / kS;
  static constexpr int kCols = kD <= 32 ? 64 : kD <= 64 ? 32 : 2048 / kD;  // tile tokens
  static constexpr int kChunk = 8;  // keys per online-softmax step
  static constexpr int kGroup = 4;  // sinc factors per log
  static_assert(kD % kS == 0 && kDT % kGroup == 0 && kCols % kChunk == 0, "bad tile shape");
  static_assert(32 % kS == 0, "a row's threads must sit in one warp");
};

// Sum over the kS threads of a row (all lanes get the same bits: each butterfly step adds the
// same two numbers in both lanes).
template <int kS>
__device__ __forceinline__ float row_sum(float x) {
#pragma unroll
  for (int offset = kS / 2; offset > 0; offset >>= 1) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}

// The row side of a score: kDT dims of one token in registers. Fourier also keeps sin/cos of
// R_d x_d. partial() is this thread's share of the score (before the factor p or scale);
// grad() adds dS * d(partial)/d(row) (before the factor) and, for Fourier, the dR sum. Both
// are symmetric in which side is the query: the Fourier score depends on q - k through an even
// function of each dim, so d/d(row) = p R g(R (row - other)) for a query row and a key row.
template <int kDT, bool kFourier>
struct RowScore {
  float raw[kDT];
  float sn[kFourier ? kDT : 1];
  float cs[kFourier ? kDT : 1];
  float R[kFourier ? kDT : 1];

  __device__ __forceinline__ void load(const float* row, int d0, int D, const float* sR) {
#pragma unroll
    for (int t = 0; t < kDT; ++t) {
      const int d = d0 + t;
      raw[t] = (row != nullptr && d < D) ? row[d] : 0.0f;
      if constexpr (kFourier) {
        R[t] = sR[d];
        sincosf(R[t] * raw[t], &sn[t], &cs[t]);
      }
    }
  }

  // o0, o1, o2: the other token's raw values, sin, cos at this thread's dims (shared memory).
  __device__ __forceinline__ float partial(const float* o0, const float* o1, const float* o2) const {
    float sum = 0.0f;
    if constexpr (kFourier) {
#pragma unroll
      for (int g0 = 0; g0 < kDT; g0 += 4) {
        float num = 1.0f, den = 1.0f;
#pragma unroll
        for (int t = g0; t < g0 + 4; ++t) {
          const float x = R[t] * (raw[t] - o0[t]);
          const float s = am::sin_diff(sn[t], cs[t], o1[t], o2[t]);
          float fn, fd;
          am::sinc_factor(x, s, fn, fd);
          num *= fn;
          den *= fd;
        }
        sum += am::log_abs_ratio(num, den);
      }
    } else {
#pragma unroll
      for (int t = 0; t < kDT; ++t) sum = fmaf(raw[t], o0[t], sum);
    }
    return sum;
  }

  __device__ __forceinline__ void grad(float dS, const float* o0, const float* o1, const float* o2,
                                       float* acc, float* dR_acc) const {
    if constexpr (kFourier) {
#pragma unroll
      for (int t = 0; t < kDT; ++t) {
        const float diff = raw[t] - o0[t];
        const float x = R[t] * diff;
        const float s = am::sin_diff(sn[t], cs[t], o1[t], o2[t]);
        const float c = am::cos_diff(sn[t], cs[t], o1[t], o2[t]);
        const float G = dS * am::log_sinc_deriv(x, s, c);
        acc[t] += G;
        dR_acc[t] = fmaf(G, diff, dR_acc[t]);
      }
    } else {
#pragma unroll
      for (int t = 0; t < kDT; ++t) acc[t] = fmaf(dS, o0[t], acc[t]);
    }
  }

  // d s / d row_d = grad_factor * (what grad() accumulated).
  __device__ __forceinline__ float grad_factor(int t, float factor) const {
    if constexpr (kFourier)
      return factor * R[t];
    else
      return factor;
  }
};

// Other-side tile in shared memory: raw values (and sin, cos of R x for Fourier) plus one
// companion array (values for the forward and dq pass, dout for the dk/dv pass).
template <int kD, bool kFourier>
struct SharedTile {
  static constexpr int kCols = AttentionTraits<kD>::kCols;
  float x[kFourier ? 3 : 1][kCols][kD];
  float companion[kCols][kD];
  float R[kD];  // R_d, 0 for padded dims (and unused for the dot score)

  __device__ void load_R(const AttentionParams<float>& p) {
    for (int d = threadIdx.x; d < kD; d += blockDim.x)
      R[d] = (!kFourier || d >= p.D) ? 0.0f : (p.R_per_dim ? p.R[d] : p.R[0]);
  }

  // Tokens [n0, n0 + kCols) of x_base / c_base (rows of the given token strides); tokens at or
  // beyond n_end and dims >= D are zero.
  __device__ void load(const float* x_base, std::int64_t x_stride, const float* c_base,
                       std::int64_t c_stride, int n0, int n_end, int D) {
    for (int e = threadIdx.x; e < kCols * kD; e += blockDim.x) {
      const int c = e / kD, d = e % kD, n = n0 + c;
      const bool ok = n < n_end && d < D;
      const float v = ok ? x_base[n * x_stride + d] : 0.0f;
      x[0][c][d] = v;
      if constexpr (kFourier) sincosf(R[d] * v, &x[1][c][d], &x[2][c][d]);
      companion[c][d] = ok ? c_base[n * c_stride + d] : 0.0f;
    }
  }
  __device__ __forceinline__ const float* x0(int c, int d0) const { return &x[0][c][d0]; }
  __device__ __forceinline__ const float* x1(int c, int d0) const { return &x[kFourier ? 1 : 0][c][d0]; }
  __device__ __forceinline__ const float* x2(int c, int d0) const { return &x[kFourier ? 2 : 0][c][d0]; }
};

__device__ __forceinline__ int key_limit(bool causal, int i, int Nq, int Nk) {
  if (!causal) return Nk;
  return min(max(i + (Nk - Nq) + 1, 0), Nk);
}

// ---- forward --------------------------------------------------------------------------------
// grid (B*H, ceil(Nq / kRows)); out, lse and (optionally) probs for kRows queries per block.
template <int kD, bool kFourier>
__global__ void __launch_bounds__(128)
    attention_forward_kernel(const AttentionParams<float> p, const float log_eps) {
  using Tr = AttentionTraits<kD>;
  __shared__ SharedTile<kD, kFourier> tile;
  const int bh = blockIdx.x, b = bh / p.H, h = bh % p.H;
  const int row = blockIdx.y * Tr::kRows + threadIdx.x / Tr::kS;
  const int d0 = (threadIdx.x % Tr::kS) * Tr::kDT;
  const bool valid = row < p.Nq;
  const float factor = kFourier ? float(p.p) : p.scale;

  const float* k = p.k + b * p.k_strides.batch + h * p.k_strides.head;
  const float* v = p.v + b * p.v_strides.batch + h * p.v_strides.head;
  const float* q_row = p.q + b * p.q_strides.batch + h * p.q_strides.head + std::int64_t(row) * p.q_strides.token;

  tile.load_R(p);
  __syncthreads();
  RowScore<Tr::kDT, kFourier> rs;
  rs.load(valid ? q_row : nullptr, d0, p.D, tile.R);

  const int limit = valid ? key_limit(p.causal, row, p.Nq, p.Nk) : 0;
  const int last_row = min(p.Nq, int(blockIdx.y + 1) * Tr::kRows) - 1;
  const int j_end = key_limit(p.causal, last_row, p.Nq, p.Nk);

  am::SoftmaxState<float> st = am::softmax_init(log_eps);
  float acc[Tr::kDT];
#pragma unroll
  for (int t = 0; t < Tr::kDT; ++t) acc[t] = 0.0f;

  for (int j0 = 0; j0 < j_end; j0 += Tr::kCols) {
    __syncthreads();
    tile.load(k, p.k_strides.token, v, p.v_strides.token, j0, j_end, p.D);
    __syncthreads();
    const int ncols = min(Tr::kCols, j_end - j0);
    for (int c0 = 0; c0 < ncols; c0 += Tr::kChunk) {
      float s[Tr::kChunk];
      float chunk_max = am::neg_inf<float>();
#pragma unroll
      for (int u = 0; u < Tr::kChunk; ++u) {
        const int c = c0 + u;
        const float sc = factor * row_sum<Tr::kS>(rs.partial(tile.x0(c, d0), tile.x1(c, d0), tile.x2(c, d0)));
        s[u] = j0 + c < limit ? sc : am::neg_inf<float>();
        chunk_max = fmaxf(chunk_max, s[u]);
      }
      const float alpha = am::softmax_rescale(st, fmaxf(st.m, chunk_max));
      const float ref = am::softmax_ref(st.m);
#pragma unroll
      for (int t = 0; t < Tr::kDT; ++t) acc[t] *= alpha;
#pragma unroll
      for (int u = 0; u < Tr::kChunk; ++u) {
        const float w = am::exp_of(s[u] - ref);
        st.l += w;
        const float* vc = &tile.companion[c0 + u][d0];
#pragma unroll
        for (int t = 0; t < Tr::kDT; ++t) acc[t] = fmaf(w, vc[t], acc[t]);
      }
    }
  }

  const float row_lse = am::softmax_lse(st);
  if (valid) {
    const float inv = st.l > 0.0f ? 1.0f / st.l : 0.0f;
    float* o = p.out + b * p.out_strides.batch + h * p.out_strides.head + std::int64_t(row) * p.out_strides.token;
#pragma unroll
    for (int t = 0; t < Tr::kDT; ++t)
      if (d0 + t < p.D) o[d0 + t] = acc[t] * inv;
    if (d0 == 0) p.lse[std::int64_t(bh) * p.Nq + row] = row_lse;
  }

  if (p.probs != nullptr) {  // second pass: normalised weights, 0 where masked
    float* pr = p.probs + (std::int64_t(bh) * p.Nq + row) * p.Nk;
    for (int j0 = 0; j0 < j_end; j0 += Tr::kCols) {
      __syncthreads();
      tile.load(k, p.k_strides.token, v, p.v_strides.token, j0, j_end, p.D);
      __syncthreads();
      const int ncols = min(Tr::kCols, j_end - j0);
      for (int c = 0; c < ncols; ++c) {
        const float sc = factor * row_sum<Tr::kS>(rs.partial(tile.x0(c, d0), tile.x1(c, d0), tile.x2(c, d0)));
        const float w = j0 + c < limit ? am::softmax_weight(sc, row_lse) : 0.0f;
        if (valid && d0 == 0) pr[j0 + c] = w;
      }
    }
    if (valid && d0 == 0)
      for (int j = max(j_end, 0); j < p.Nk; ++j) pr[j] = 0.0f;
  }
}

// ---- backward, pass 1: dq -------------------------------------------------------------------
// grid (B*H, ceil(Nq / kRows)). Rows are queries; tiles are keys with their values.
template <int kD, bool kFourier>
__global__ void __launch_bounds__(128)
    attention_backward_dq_kernel(const AttentionBackwardParams<float> bp) {
  using Tr = AttentionTraits<kD>;
  const AttentionParams<float>& p = bp.fwd;
  __shared__ SharedTile<kD, kFourier> tile;
  const int bh = blockIdx.x, b = bh / p.H, h = bh % p.H;
  const int row = blockIdx.y * Tr::kRows + threadIdx.x / Tr::kS;
  const int d0 = (threadIdx.x % Tr::kS) * Tr::kDT;
  const bool valid = row < p.Nq;
  const float factor = kFourier ? float(p.p) : p.scale;

  const float* k = p.k + b * p.k_strides.batch + h * p.k_strides.head;
  const float* v = p.v + b * p.v_strides.batch + h * p.v_strides.head;
  const std::int64_t r = row;
  const float* q_row = p.q + b * p.q_strides.batch + h * p.q_strides.head + r * p.q_strides.token;
  const float* o_row = p.out + b * p.out_strides.batch + h * p.out_strides.head + r * p.out_strides.token;
  const float* g_row = bp.dout + b * bp.dout_strides.batch + h * bp.dout_strides.head + r * bp.dout_strides.token;

  tile.load_R(p);
  __syncthreads();
  RowScore<Tr::kDT, kFourier> rs;
  rs.load(valid ? q_row : nullptr, d0, p.D, tile.R);
  float g[Tr::kDT], acc[Tr::kDT], dR_unused[Tr::kDT];
  float delta_part = 0.0f;
#pragma unroll
  for (int t = 0; t < Tr::kDT; ++t) {
    const bool ok = valid && d0 + t < p.D;
    g[t] = ok ? g_row[d0 + t] : 0.0f;
    delta_part = fmaf(g[t], ok ? o_row[d0 + t] : 0.0f, delta_part);
    acc[t] = 0.0f;
    dR_unused[t] = 0.0f;
  }
  const float delta = row_sum<Tr::kS>(delta_part);
  const float row_lse = valid ? p.lse[std::int64_t(bh) * p.Nq + row] : am::neg_inf<float>();
  const int limit = valid ? key_limit(p.causal, row, p.Nq, p.Nk) : 0;
  const int last_row = min(p.Nq, int(blockIdx.y + 1) * Tr::kRows) - 1;
  const int j_end = key_limit(p.causal, last_row, p.Nq, p.Nk);

  for (int j0 = 0; j0 < j_end; j0 += Tr::kCols) {
    __syncthreads();
    tile.load(k, p.k_strides.token, v, p.v_strides.token, j0, j_end, p.D);
    __syncthreads();
    const int ncols = min(Tr::kCols, j_end - j0);
    for (int c = 0; c < ncols; ++c) {
      const float sc = factor * row_sum<Tr::kS>(rs.partial(tile.x0(c, d0), tile.x1(c, d0), tile.x2(c, d0)));
      const float P = j0 + c < limit ? am::softmax_weight(sc, row_lse) : 0.0f;
      float dp_part = 0.0f;
#pragma unroll
      for (int t = 0; t < Tr::kDT; ++t) dp_part = fmaf(g[t], tile.companion[c][d0 + t], dp_part);
      const float dS = P * (row_sum<Tr::kS>(dp_part) - delta);
      rs.grad(dS, tile.x0(c, d0), tile.x1(c, d0), tile.x2(c, d0), acc, dR_unused);
    }
  }
  if (valid) {
    float* dq = bp.dq + b * bp.dq_strides.batch + h * bp.dq_strides.head + r * bp.dq_strides.token;
#pragma unroll
    for (int t = 0; t < Tr::kDT; ++t)
      if (d0 + t < p.D) dq[d0 + t] = rs.grad_factor(t, factor) * acc[t];
  }
}

// ---- backward, pass 2: dk, dv (and dR) -----------------------------------------------------
// grid (B*H, ceil(Nk / kRows)). Rows are keys; tiles are queries with their dout.
template <int kD, bool kFourier>
__global__ void __launch_bounds__(128)
    attention_backward_dkdv_kernel(const AttentionBackwardParams<float> bp) {
  using Tr = AttentionTraits<kD>;
  const AttentionParams<float>& p = bp.fwd;
  __shared__ SharedTile<kD, kFourier> tile;
  __shared__ float s_lse[Tr::kCols], s_delta[Tr::kCols], s_dR[kD];
  const int bh = blockIdx.x, b = bh / p.H, h = bh % p.H;
  const int row = blockIdx.y * Tr::kRows + threadIdx.x / Tr::kS;
  const int d0 = (threadIdx.x % Tr::kS) * Tr::kDT;
  const bool valid = row < p.Nk;
  const float factor = kFourier ? float(p.p) : p.scale;
  const int off = p.Nk - p.Nq;  // query i sees key j iff j <= i + off (causal)

  const float* q = p.q + b * p.q_strides.batch + h * p.q_strides.head;
  const float* o = p.out + b * p.out_strides.batch + h * p.out_strides.head;
  const float* g = bp.dout + b * bp.dout_strides.batch + h * bp.dout_strides.head;
  const float* lse = p.lse + std::int64_t(bh) * p.Nq;
  const std::int64_t r = row;
  const float* k_row = p.k + b * p.k_strides.batch + h * p.k_strides.head + r * p.k_strides.token;
  const float* v_row = p.v + b * p.v_strides.batch + h * p.v_strides.head + r * p.v_strides.token;

  tile.load_R(p);
  for (int d = threadIdx.x; d < kD; d += blockDim.x) s_dR[d] = 0.0f;
  __syncthreads();
  RowScore<Tr::kDT, kFourier> rs;
  rs.load(valid ? k_row : nullptr, d0, p.D, tile.R);
  float vr[Tr::kDT], dk[Tr::kDT], dv[Tr::kDT], dR[Tr::kDT];
#pragma unroll
  for (int t = 0; t < Tr::kDT; ++t) {
    vr[t] = (valid && d0 + t < p.D) ? v_row[d0 + t] : 0.0f;
    dk[t] = dv[t] = dR[t] = 0.0f;
  }
  const int first_key = blockIdx.y * Tr::kRows;
  const int i_begin = p.causal ? min(max(first_key - off, 0), p.Nq) : 0;

  for (int i0 = i_begin; i0 < p.Nq; i0 += Tr::kCols) {
    __syncthreads();
    tile.load(q, p.q_strides.token, g, bp.dout_strides.token, i0, p.Nq, p.D);
    for (int c = threadIdx.x; c < Tr::kCols; c += blockDim.x) {
      const int i = i0 + c;
      float delta = 0.0f;
      if (i < p.Nq) {
        const float* gi = g + std::int64_t(i) * bp.dout_strides.token;
        const float* oi = o + std::int64_t(i) * p.out_strides.token;
        for (int d = 0; d < p.D; ++d) delta = fmaf(gi[d], oi[d], delta);
      }
      s_delta[c] = delta;
      s_lse[c] = i < p.Nq ? lse[i] : am::neg_inf<float>();
    }
    __syncthreads();
    const int ncols = min(Tr::kCols, p.Nq - i0);
    for (int c = 0; c < ncols; ++c) {
      const int i = i0 + c;
      const bool sees = valid && (!p.causal || row <= i + off);
      const float sc = factor * row_sum<Tr::kS>(rs.partial(tile.x0(c, d0), tile.x1(c, d0), tile.x2(c, d0)));
      const float P = sees ? am::softmax_weight(sc, s_lse[c]) : 0.0f;
      const float* gc = &tile.companion[c][d0];
      float dp_part = 0.0f;
#pragma unroll
      for (int t = 0; t < Tr::kDT; ++t) {
        dp_part = fmaf(gc[t], vr[t], dp_part);
        dv[t] = fmaf(P, gc[t], dv[t]);
      }
      const float dS = P * (row_sum<Tr::kS>(dp_part) - s_delta[c]);
      rs.grad(dS, tile.x0(c, d0), tile.x1(c, d0), tile.x2(c, d0), dk, dR);
    }
  }

  if (valid) {
    float* dk_row = bp.dk + b * bp.dk_strides.batch + h * bp.dk_strides.head + r * bp.dk_strides.token;
    float* dv_row = bp.dv + b * bp.dv_strides.batch + h * bp.dv_strides.head + r * bp.dv_strides.token;
#pragma unroll
    for (int t = 0; t < Tr::kDT; ++t)
      if (d0 + t < p.D) {
        dk_row[d0 + t] = rs.grad_factor(t, factor) * dk[t];
        dv_row[d0 + t] = dv[t];
      }
  }
  if constexpr (kFourier) {
    if (bp.dR != nullptr) {  // dR_d = p * sum G (q - k): block sum in shared, then one atomic per dim
#pragma unroll
      for (int t = 0; t < Tr::kDT; ++t)
        if (valid && d0 + t < p.D) atomicAdd(&s_dR[d0 + t], dR[t]);
      __syncthreads();
      for (int d = threadIdx.x; d < p.D && d < kD; d += blockDim.x)
        atomicAdd(p.R_per_dim ? &bp.dR[d] : &bp.dR[0], factor * s_dR[d]);
    }
  }
}

// ---- launchers ------------------------------------------------------------------------------

inline void check_grid(int tiles) {
  FF_CHECK(tiles <= 65535, "attention (cuda): {} row tiles exceed the grid limit 65535", tiles);
}

template <int kD>
void launch_attention_forward(const AttentionParams<float>& p, float log_eps, cudaStream_t stream) {
  using Tr = AttentionTraits<kD>;
  const int tiles = (p.Nq + Tr::kRows - 1) / Tr::kRows;
  check_grid(tiles);
  const dim3 grid(unsigned(p.B) * unsigned(p.H), unsigned(tiles));
  if (p.score == AttentionScore::Fourier)
    attention_forward_kernel<kD, true><<<grid, Tr::kThreads, 0, stream>>>(p, log_eps);
  else
    attention_forward_kernel<kD, false><<<grid, Tr::kThreads, 0, stream>>>(p, log_eps);
  FF_CUDA_CHECK_LAUNCH();
}

template <int kD>
void launch_attention_backward(const AttentionBackwardParams<float>& bp, cudaStream_t stream) {
  using Tr = AttentionTraits<kD>;
  const AttentionParams<float>& p = bp.fwd;
  const unsigned heads = unsigned(p.B) * unsigned(p.H);
  const bool fourier = p.score == AttentionScore::Fourier;
  if (p.Nq > 0) {
    const int tiles = (p.Nq + Tr::kRows - 1) / Tr::kRows;
    check_grid(tiles);
    const dim3 grid(heads, unsigned(tiles));
    if (fourier)
      attention_backward_dq_kernel<kD, true><<<grid, Tr::kThreads, 0, stream>>>(bp);
    else
      attention_backward_dq_kernel<kD, false><<<grid, Tr::kThreads, 0, stream>>>(bp);
    FF_CUDA_CHECK_LAUNCH();
  }
  if (p.Nk > 0) {
    const int tiles = (p.Nk + Tr::kRows - 1) / Tr::kRows;
    check_grid(tiles);
    const dim3 grid(heads, unsigned(tiles));
    if (fourier)
      attention_backward_dkdv_kernel<kD, true><<<grid, Tr::kThreads, 0, stream>>>(bp);
    else
      attention_backward_dkdv_kernel<kD, false><<<grid, Tr::kThreads, 0, stream>>>(bp);
    FF_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace ff::kernels::cuda::detail
