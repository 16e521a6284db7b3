// CPU fused attention: one register-blocked skeleton for both scores. The parallel loops
// (forward_impl over (batch, head, query chunk), backward_impl over (batch, head): a head's
// dk, dv belong to one thread) hand blocks of kRows query rows to BlockedForward /
// BlockedBackward, which run the online softmax of attention_math.h over key tiles of kKeyTile
// keys (extra memory O(Nk * D) per thread). A block meets a tile through micro-kernels whose
// accumulators live in SIMD registers (simd.h), so keys and values are read once per block:
//
// - the score policy (DotScore or FourierScore) computes the block's scores S for a tile and,
//   in the backward, turns dS into dQ, dK (and dR): DotScore with rows_dot_columns (S = Q K^T)
//   and the GEMM-like weights_times_rows (dQ += dS K) and rank_update (dK += dS^T Q);
//   FourierScore with sinc_products (the product of sincs of each (query, key) pair, one log
//   per pair) and sinc_grads (G = dS g(x) summed into dQ, dK, dR);
// - the skeleton does the rest: weights_times_rows for O += P V, rows_dot_columns for
//   dP = dO V^T, rank_update for dV += P^T dO, the masking, row maxima and rescaling.

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/attention.h"
#include "kernels/attention_math.h"
#include "kernels/common.h"
#include "kernels/cpu/simd.h"

namespace ff::kernels::cpu {
namespace {

namespace am = attention_math;

constexpr int kKeyTile = 128;  // keys per online-softmax step
constexpr int kRows = 6;       // query rows per block
template <typename T>
constexpr int kKeyStep = 2 * simd::Vec<T>::kLanes;  // keys per score micro-tile (2 vectors)

inline int round_up(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }

// xT[d * ld + j] = x[j * token_stride + d] for j < n, d < D: (n, D) rows to [D][ld], ld >= n;
// the padding (j >= n) is `pad`.
template <typename T>
void load_transposed(const T* x, std::int64_t token_stride, int n, int D, int ld, T pad,
                     std::vector<T>& xT) {
  xT.assign(std::size_t(D) * ld, pad);
  for (int j = 0; j < n; ++j)
    for (int d = 0; d < D; ++d) xT[std::size_t(d) * ld + j] = x[j * token_stride + d];
}

// sin and cos of n values (per-token work, vectorised for float).
inline void sincos_row(const float* x, int n, float* s, float* c) {
#pragma omp simd
  for (int i = 0; i < n; ++i) am::poly_sincos(x[i], s[i], c[i]);
  for (int i = 0; i < n; ++i) {
    if (!(std::fabs(x[i]) <= am::kPolySinCosLimit)) {
      s[i] = std::sin(x[i]);
      c[i] = std::cos(x[i]);
    }
  }
}
inline void sincos_row(const double* x, int n, double* s, double* c) {
  for (int i = 0; i < n; ++i) {
    s[i] = std::sin(x[i]);
    c[i] = std::cos(x[i]);
  }
}

template <typename T>
const T* head_ptr(const T* base, const AttentionStrides& st, int b, int h) {
  return base + b * st.batch + h * st.head;
}
template <typename T>
T* head_ptr(T* base, const AttentionStrides& st, int b, int h) {
  return base + b * st.batch + h * st.head;
}

// Number of keys query i sees.
inline int key_limit(bool causal, int i, int Nq, int Nk) {
  if (!causal) return Nk;
  return std::clamp(i + (Nk - Nq) + 1, 0, Nk);
}

// ---- GEMM-like micro-kernels ----------------------------------------------------------------

// c[r * ldc + jj] = sum_{d < D} a[r * lda + d] * bT[d * ldb + jj] for r < kRows, jj < n
// (n a multiple of kKeyStep): a block of rows against a tile of [D][keys] columns.
template <typename T>
void rows_dot_columns(const T* __restrict a, int lda, const T* __restrict bT, std::size_t ldb,
                      int D, int n, T* __restrict c, int ldc) {
  using V = simd::Vec<T>;
  constexpr int W = V::kLanes;
  for (int jj = 0; jj < n; jj += 2 * W) {
    V acc[kRows][2];
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = V::zero();
    const T* b = bT + jj;
    for (int d = 0; d < D; ++d, b += ldb) {
      const V b0 = V::load(b), b1 = V::load(b + W);
#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r) {
        const V ar = V::broadcast(a + r * lda + d);
        acc[r][0] = simd::fma(ar, b0, acc[r][0]);
        acc[r][1] = simd::fma(ar, b1, acc[r][1]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      acc[r][0].store(c + r * ldc + jj);
      acc[r][1].store(c + r * ldc + jj + W);
    }
  }
}

// o[r][c] = x[r * Dp + e0 + c * W, ...+ W): C vectors of each of the block's kRows rows.
template <int C, typename T>
void load_block(const T* x, int Dp, int e0, simd::Vec<T> (&o)[kRows][C]) {
  constexpr int W = simd::Vec<T>::kLanes;
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
    for (int c = 0; c < C; ++c) o[r][c] = simd::Vec<T>::load(x + r * Dp + e0 + c * W);
}

// acc[r * Dp + e] += sum_{jj < n} w[r * ldw + jj] * b[jj * Dp + e] for r < kRows, e < Dp:
// weighted sums of n rows of Dp values (Dp a multiple of the lanes), C vectors of e at a time.
template <int C, typename T>
void weights_rows_chunk(const T* __restrict w, int ldw, int n, const T* __restrict b, int Dp,
                        int e0, T* __restrict acc) {
  using V = simd::Vec<T>;
  constexpr int W = V::kLanes;
  V o[kRows][C];
  load_block(acc, Dp, e0, o);
  for (int jj = 0; jj < n; ++jj) {
    V bc[C];
    for (int c = 0; c < C; ++c) bc[c] = V::load(b + std::size_t(jj) * Dp + e0 + c * W);
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const V wr = V::broadcast(w + r * ldw + jj);
      for (int c = 0; c < C; ++c) o[r][c] = simd::fma(wr, bc[c], o[r][c]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
    for (int c = 0; c < C; ++c) o[r][c].store(acc + r * Dp + e0 + c * W);
}
template <typename T>
void weights_times_rows(const T* w, int ldw, int n, const T* b, int Dp, T* acc) {
  constexpr int W = simd::Vec<T>::kLanes;
  int e0 = 0;
  for (; e0 + 2 * W <= Dp; e0 += 2 * W) weights_rows_chunk<2>(w, ldw, n, b, Dp, e0, acc);
  if (e0 < Dp) weights_rows_chunk<1>(w, ldw, n, b, Dp, e0, acc);
}

// c[jj * Dp + e] += sum_{r < kRows} w[r * ldw + jj] * a[r * Dp + e] for jj < n, e < Dp: the
// rank-kRows update of n rows (dV += P^T dO, dK += dS^T Q), the block's rows held in registers.
template <int C, typename T>
void rank_update_chunk(const T* __restrict w, int ldw, int n, const T* __restrict a, int Dp,
                       int e0, T* __restrict c) {
  using V = simd::Vec<T>;
  constexpr int W = V::kLanes;
  V ar[kRows][C];
  load_block(a, Dp, e0, ar);
  for (int jj = 0; jj < n; ++jj) {
    T* cj = c + std::size_t(jj) * Dp + e0;
    V cc[C];
    for (int k = 0; k < C; ++k) cc[k] = V::load(cj + k * W);
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const V wr = V::broadcast(w + r * ldw + jj);
      for (int k = 0; k < C; ++k) cc[k] = simd::fma(wr, ar[r][k], cc[k]);
    }
    for (int k = 0; k < C; ++k) cc[k].store(cj + k * W);
  }
}
template <typename T>
void rank_update(const T* w, int ldw, int n, const T* a, int Dp, T* c) {
  constexpr int W = simd::Vec<T>::kLanes;
  int e0 = 0;
  for (; e0 + 2 * W <= Dp; e0 += 2 * W) rank_update_chunk<2>(w, ldw, n, a, Dp, e0, c);
  if (e0 < Dp) rank_update_chunk<1>(w, ldw, n, a, Dp, e0, c);
}

// w[jj] = exp(s[jj] - ref) for jj < n; returns their sum. Out of line, so the loop is
// vectorised in any caller (inlined into the block loops GCC kept a scalar, branching exp).
template <typename T>
[[gnu::noinline]] T exp_row(const T* __restrict s, T ref, int n, T* __restrict w) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int jj = 0; jj < n; ++jj) {
    w[jj] = am::exp_of(s[jj] - ref);
    sum += w[jj];
  }
  return sum;
}

// x[j * token_stride + d] for j < n, d < D as [ld][Dp] rows, zero beyond (Dp >= D, ld >= n).
template <typename T>
void load_rows(const T* x, std::int64_t token_stride, int n, int D, int Dp, int ld, std::vector<T>& xr) {
  xr.assign(std::size_t(ld) * Dp, T(0));
  for (int j = 0; j < n; ++j) std::copy(x + j * token_stride, x + j * token_stride + D, xr.data() + std::size_t(j) * Dp);
}

// x[(i0 + r) * token_stride + d] * scale as [kRows][ld] rows for r < rows, zero beyond (rows and
// dims d >= D up to ld).
template <typename T>
void load_query_rows(const T* x, std::int64_t token_stride, int i0, int rows, int D, T scale, int ld,
                     T* block) {
  std::fill(block, block + kRows * ld, T(0));
  for (int r = 0; r < rows; ++r)
    for (int d = 0; d < D; ++d) block[r * ld + d] = scale * x[(i0 + r) * token_stride + d];
}

// The key limits of one block of up to kRows query rows [i0, i0 + rows) (0 for padding rows).
struct BlockRows {
  int rows = 0;
  int limit[kRows] = {};
  int max_limit = 0;

  template <typename T>
  BlockRows(const AttentionParams<T>& p, int i0, int i1) : rows(std::min(kRows, i1 - i0)) {
    for (int r = 0; r < kRows; ++r) {
      limit[r] = r < rows ? key_limit(p.causal, i0 + r, p.Nq, p.Nk) : 0;
      max_limit = std::max(max_limit, limit[r]);
    }
  }
};

// ---- score policies --------------------------------------------------------------------------
// A policy holds one head's keys (set_keys, keys [0, n) padded to ld) and one block's queries
// (set_queries); scores(j0, n, s) writes s[r * kKeyTile + jj] for the block's kRows rows and keys
// j0 + jj, jj < n (n a multiple of kKeyStep, padding keys and rows finite). For the backward
// (set_keys with grads = true) grads(ds, j0, n) adds the tile's dS to the block's dq and the
// head's dk (and dR) sums, written out by write_dq after each block and write_dk / write_dR
// after the head.

// s_ij = scale * q_i . k_j.
template <typename T>
class DotScore {
 public:
  explicit DotScore(const AttentionParams<T>& p)
      : D_(p.D), Dp_(round_up(p.D, simd::Vec<T>::kLanes)), scale_(p.scale), q_(kRows * Dp_),
        dq_(kRows * Dp_) {}

  T log_eps() const { return am::neg_inf<T>(); }

  void set_keys(const T* k, std::int64_t token_stride, int n, int ld, bool grads) {
    ld_ = ld;
    load_transposed(k, token_stride, n, D_, ld, T(0), kT_);
    if (!grads) return;
    load_rows(k, token_stride, n, D_, Dp_, ld, kr_);
    dk_.assign(std::size_t(ld) * Dp_, T(0));
  }
  // Queries scaled by `scale`, so dK += dS^T (scale Q) needs no further factor.
  void set_queries(const T* q, std::int64_t token_stride, int i0, int rows) {
    load_query_rows(q, token_stride, i0, rows, D_, scale_, Dp_, q_.data());
    std::fill(dq_.begin(), dq_.end(), T(0));
  }
  void scores(int j0, int n, T* s) {
    rows_dot_columns(q_.data(), Dp_, kT_.data() + j0, ld_, D_, n, s, kKeyTile);
  }
  void grads(const T* ds, int j0, int n) {
    const std::size_t off = std::size_t(j0) * Dp_;
    rank_update(ds, kKeyTile, n, q_.data(), Dp_, dk_.data() + off);
    weights_times_rows(ds, kKeyTile, n, kr_.data() + off, Dp_, dq_.data());
  }
  void write_dq(int rows, T* dq, std::int64_t token_stride) const {
    for (int r = 0; r < rows; ++r)
      for (int d = 0; d < D_; ++d) dq[r * token_stride + d] = scale_ * dq_[r * Dp_ + d];
  }
  void write_dk(T* dk, std::int64_t token_stride, int n) const {
    for (int j = 0; j < n; ++j) std::copy_n(dk_.data() + std::size_t(j) * Dp_, D_, dk + j * token_stride);
  }
  void write_dR(T*) const {}

 private:
  int D_, Dp_;
  T scale_;
  int ld_ = 0;
  std::vector<T> kT_;       // [D][ld]
  std::vector<T> kr_, dk_;  // [ld][Dp]
  std::vector<T> q_, dq_;   // [kRows][Dp]
};

// ---- register-blocked Fourier score ----------------------------------------------------------
// Per token and dim the policy packs four values: R_d x_d, sin(R_d x_d), cos(R_d x_d) and x_d
// itself. Keys are packed [d][key vector][4][lanes] (one pointer walks a tile), a block's
// queries [d][row][4] (each value broadcast to the lanes). The score takes x = qR - kR, the
// gradients x = R (q - k) (their dR term needs q - k itself); sin x and cos x come from the
// per-token values (am::sin_diff, am::cos_diff). Head dims are padded to a multiple of
// kSincGroup with x = 0, whose sinc factor is exactly 1 and gradient exactly 0. The series
// below are am::sinc_factor's and am::log_sinc_deriv's.

constexpr int kPack = 4;          // packed values per token and dim
constexpr int kSincGroup = 4;     // sinc factors multiplied (num and den apart) per division
constexpr int kProductRows = 2;   // query rows per pass of sinc_products
constexpr int kGradRows = 3;      // query rows per pass of sinc_grads
static_assert(kRows % kProductRows == 0 && kRows % kGradRows == 0);

// 2^-60, 2^60: the running product of sincs is scaled up when it falls below 2^-60, so D
// factors (each at most 1) never underflow unless a group of kSincGroup does.
template <typename T>
constexpr T kTinyProduct = T(8.673617379884035e-19);
template <typename T>
constexpr T kProductScale = T(1152921504606846976.0);

// For query rows r < Rows of qp (the block's pack from row r0) and key vectors v < nvec of kp
// (the head's pack from the tile's first vector; nv vectors per dim), Dg padded dims:
// prod[r * ldp + jj] * 2^expo[r * ldp + jj] = prod_d sinc(qR[r][d] - kR[d][jj]).
template <int Rows, typename T>
void sinc_products(const T* __restrict qp, int Dg, const T* __restrict kp, std::size_t nv, int nvec,
                   T* __restrict prod, T* __restrict expo, int ldp) {
  using V = simd::Vec<T>;
  constexpr int W = V::kLanes;
  const V one = V::splat(T(1));
  const V small2 = V::splat(am::Consts<T>::kSmallX * am::Consts<T>::kSmallX);
  for (int v = 0; v < nvec; ++v) {
    V acc[Rows], e[Rows];
    for (int r = 0; r < Rows; ++r) acc[r] = one, e[r] = V::zero();
    for (int d0 = 0; d0 < Dg; d0 += kSincGroup) {
      V num[Rows], den[Rows];
      for (int r = 0; r < Rows; ++r) num[r] = one, den[r] = one;
#pragma GCC unroll 4
      for (int g = 0; g < kSincGroup; ++g) {
        const T* kd = kp + ((std::size_t(d0 + g) * nv + v) * kPack) * W;
        const T* qd = qp + std::size_t(d0 + g) * kRows * kPack;
        const V kr = V::load(kd), ks = V::load(kd + W), kc = V::load(kd + 2 * W);
#pragma GCC unroll 4
        for (int r = 0; r < Rows; ++r) {
          const T* qr = qd + r * kPack;
          const V x = simd::sub(V::broadcast(qr), kr);
          const V sn = simd::fms(V::broadcast(qr + 1), kc, simd::mul(V::broadcast(qr + 2), ks));
          const V z = simd::mul(x, x);
          // sinc x = 1 - x^2/6 + x^4/120 - x^6/5040 + x^8/362880 below kSmallX, sin x / x above.
          V t = simd::fma(z, V::splat(T(1.0 / 362880.0)), V::splat(T(-1.0 / 5040.0)));
          t = simd::fma(t, z, V::splat(T(1.0 / 120.0)));
          t = simd::fma(t, z, V::splat(T(-1.0 / 6.0)));
          t = simd::fma(t, z, one);
          const V small = simd::less(z, small2);
          num[r] = simd::mul(num[r], simd::select(small, t, sn));
          den[r] = simd::mul(den[r], simd::select(small, one, x));
        }
      }
      for (int r = 0; r < Rows; ++r) {
        acc[r] = simd::mul(acc[r], simd::div(num[r], den[r]));
        const V under = simd::less(simd::abs(acc[r]), V::splat(kTinyProduct<T>));
        acc[r] = simd::mul(acc[r], simd::select(under, V::splat(kProductScale<T>), one));
        e[r] = simd::add(e[r], simd::select(under, V::splat(T(-60)), V::zero()));
      }
    }
    for (int r = 0; r < Rows; ++r) {
      acc[r].store(prod + r * ldp + v * W);
      e[r].store(expo + r * ldp + v * W);
    }
  }
}

// s[jj] = p (log|s[jj]| + expo[jj] ln 2): the score of a product from sinc_products, in place.
// Out of line, so the loop is vectorised in any caller (as exp_row).
template <typename T>
[[gnu::noinline]] void log_scores_row(T* __restrict s, const T* __restrict expo, T p, int n) {
#pragma omp simd
  for (int jj = 0; jj < n; ++jj)
    s[jj] = p * (am::log_of(std::fabs(s[jj])) + expo[jj] * T(0.693147180559945309417));
}

// For query rows r < Rows of qp, key vectors v < nvec of kp (as sinc_products) and dims d < D,
// with G = ds[r * lds + jj] g(x), x = R_d (q[r][d] - k[d][jj]), g = d/dx log|sinc x|
// (am::log_sinc_deriv):
//   dq[r * Dg + d] += sum_jj G,   dkT[d * ldk + jj] += sum_r G,   dRdiff[d] += sum_{r, jj} G (q - k).
template <int Rows, typename T>
void sinc_grads(const T* __restrict qp, int D, int Dg, const T* __restrict kp, std::size_t nv,
                const T* __restrict R, int nvec, const T* __restrict ds, int lds,
                T* __restrict dq, T* __restrict dkT, std::size_t ldk, T* __restrict dRdiff) {
  using V = simd::Vec<T>;
  constexpr int W = V::kLanes;
  const V small2 = V::splat(am::Consts<T>::kSmallX * am::Consts<T>::kSmallX);
  const V tiny_den = V::splat(am::Consts<T>::kTinyDen);
  for (int d = 0; d < D; ++d) {
    V dqa[Rows], dr = V::zero();
    for (int r = 0; r < Rows; ++r) dqa[r] = V::zero();
    const V Rd = V::broadcast(R + d);
    const T* qd = qp + std::size_t(d) * kRows * kPack;
    for (int v = 0; v < nvec; ++v) {
      const T* kd = kp + ((std::size_t(d) * nv + v) * kPack) * W;
      const V ks = V::load(kd + W), kc = V::load(kd + 2 * W), kx = V::load(kd + 3 * W);
      T* dkd = dkT + d * ldk + v * W;
      V dk = V::load(dkd);
#pragma GCC unroll 4
      for (int r = 0; r < Rows; ++r) {
        const T* qr = qd + r * kPack;
        const V qs = V::broadcast(qr + 1), qc = V::broadcast(qr + 2);
        const V diff = simd::sub(V::broadcast(qr + 3), kx);
        const V x = simd::mul(Rd, diff);
        const V sn = simd::fms(qs, kc, simd::mul(qc, ks));
        const V cs = simd::fma(qc, kc, simd::mul(qs, ks));
        const V z = simd::mul(x, x);
        // g = -x/3 - x^3/45 - 2x^5/945 - x^7/4725 - 2x^9/93555 below kSmallX,
        // (x cos x - sin x) / (x sin x) above, its denominator kept away from 0.
        V series = simd::fma(z, V::splat(T(-2.0 / 93555.0)), V::splat(T(-1.0 / 4725.0)));
        series = simd::fma(series, z, V::splat(T(-2.0 / 945.0)));
        series = simd::fma(series, z, V::splat(T(-1.0 / 45.0)));
        series = simd::fma(series, z, V::splat(T(-1.0 / 3.0)));
        series = simd::mul(series, x);
        V den = simd::mul(x, sn);
        den = simd::select(simd::less(simd::abs(den), tiny_den), tiny_den, den);
        const V ratio = simd::div(simd::fms(x, cs, sn), den);
        const V g = simd::select(simd::less(z, small2), series, ratio);
        const V G = simd::mul(V::load(ds + r * lds + v * W), g);
        dqa[r] = simd::add(dqa[r], G);
        dk = simd::add(dk, G);
        dr = simd::fma(G, diff, dr);
      }
      dk.store(dkd);
    }
    for (int r = 0; r < Rows; ++r) dq[r * D + d] += simd::hsum(dqa[r]);
    dRdiff[d] += simd::hsum(dr);
  }
}

// s_ij = p * sum_d log|sinc(R_d (q_id - k_jd))|.
template <typename T>
class FourierScore {
 public:
  explicit FourierScore(const AttentionParams<T>& p)
      : D_(p.D), Dg_(round_up(p.D, kSincGroup)), p_(T(p.p)), R_(p.D), tmp_(p.D), sin_(p.D),
        cos_(p.D), qp_(std::size_t(Dg_) * kRows * kPack), dq_(kRows * p.D), dRdiff_(p.D),
        expo_(kRows * kKeyTile) {
    for (int d = 0; d < D_; ++d) R_[d] = p.R_per_dim ? p.R[d] : p.R[0];
    log_eps_ = p.eps > T(0) ? T(std::log(double(p.eps))) : am::neg_inf<T>();
  }

  T log_eps() const { return log_eps_; }

  void set_keys(const T* k, std::int64_t token_stride, int n, int ld, bool grads) {
    constexpr int W = simd::Vec<T>::kLanes;
    ld_ = ld;
    nv_ = ld / W;
    kp_.resize(std::size_t(Dg_) * ld * kPack);
    for (int d = 0; d < Dg_; ++d)  // padding keys and dims: x = 0, sin = 0, cos = 1
      for (int v = 0; v < nv_; ++v) pack(kp_.data() + (std::size_t(d) * nv_ + v) * kPack * W, W, W, T(0), T(0), T(1), T(0));
    for (int j = 0; j < n; ++j) {
      const T* kj = k + j * token_stride;
      sincos_scaled(kj);
      for (int d = 0; d < D_; ++d)
        pack(kp_.data() + (std::size_t(d) * nv_ + j / W) * kPack * W + j % W, W, 1, tmp_[d], sin_[d], cos_[d], kj[d]);
    }
    if (!grads) return;
    dkT_.assign(std::size_t(D_) * ld, T(0));
    std::fill(dRdiff_.begin(), dRdiff_.end(), T(0));
  }
  void set_queries(const T* q, std::int64_t token_stride, int i0, int rows) {
    for (int d = 0; d < Dg_; ++d)  // padding rows and dims: like padding keys
      for (int r = 0; r < kRows; ++r) pack(query(d, r), 1, 1, T(0), T(0), T(1), T(0));
    for (int r = 0; r < rows; ++r) {
      const T* qi = q + (i0 + r) * token_stride;
      sincos_scaled(qi);
      for (int d = 0; d < D_; ++d) pack(query(d, r), 1, 1, tmp_[d], sin_[d], cos_[d], qi[d]);
    }
    std::fill(dq_.begin(), dq_.end(), T(0));
  }
  void scores(int j0, int n, T* s) {
    constexpr int W = simd::Vec<T>::kLanes;
    for (int r0 = 0; r0 < kRows; r0 += kProductRows)
      sinc_products<kProductRows>(query(0, r0), Dg_, key_vector(j0 / W), nv_, n / W, s + r0 * kKeyTile,
                                  expo_.data() + r0 * kKeyTile, kKeyTile);
    for (int r = 0; r < kRows; ++r) log_scores_row(s + r * kKeyTile, expo_.data() + r * kKeyTile, p_, n);
  }
  void grads(const T* ds, int j0, int n) {
    constexpr int W = simd::Vec<T>::kLanes;
    for (int r0 = 0; r0 < kRows; r0 += kGradRows)
      sinc_grads<kGradRows>(query(0, r0), D_, Dg_, key_vector(j0 / W), nv_, R_.data(), n / W,
                            ds + r0 * kKeyTile, kKeyTile, dq_.data() + r0 * D_, dkT_.data() + j0, ld_,
                            dRdiff_.data());
  }
  // ds/dq_d = p R_d g, ds/dk_d = -p R_d g.
  void write_dq(int rows, T* dq, std::int64_t token_stride) const {
    for (int r = 0; r < rows; ++r)
      for (int d = 0; d < D_; ++d) dq[r * token_stride + d] = p_ * R_[d] * dq_[r * D_ + d];
  }
  void write_dk(T* dk, std::int64_t token_stride, int n) const {
    for (int j = 0; j < n; ++j)
      for (int d = 0; d < D_; ++d) dk[j * token_stride + d] = -p_ * R_[d] * dkT_[std::size_t(d) * ld_ + j];
  }
  // ds/dR_d = p (q_d - k_d) g.
  void write_dR(T* dR_head) const {
    for (int d = 0; d < D_; ++d) dR_head[d] = p_ * dRdiff_[d];
  }

 private:
  // The four packed values at dst, dst + step, dst + 2 step, dst + 3 step (count of each).
  static void pack(T* dst, int step, int count, T xR, T s, T c, T x) {
    std::fill_n(dst, count, xR);
    std::fill_n(dst + step, count, s);
    std::fill_n(dst + 2 * step, count, c);
    std::fill_n(dst + 3 * step, count, x);
  }
  // tmp_ = R x, sin_, cos_ = its sine and cosine, for one token's D values x.
  void sincos_scaled(const T* x) {
    for (int d = 0; d < D_; ++d) tmp_[d] = R_[d] * x[d];
    sincos_row(tmp_.data(), D_, sin_.data(), cos_.data());
  }
  T* query(int d, int r) { return qp_.data() + (std::size_t(d) * kRows + r) * kPack; }
  const T* key_vector(int v) const { return kp_.data() + std::size_t(v) * kPack * simd::Vec<T>::kLanes; }

  int D_, Dg_;  // head dim, padded to kSincGroup
  T p_;
  T log_eps_;
  int ld_ = 0, nv_ = 0;  // keys padded, key vectors per dim
  std::vector<T> R_, tmp_, sin_, cos_;  // D
  std::vector<T> kp_;                   // [Dg][nv][kPack][lanes]
  std::vector<T> dkT_;                  // [D][ld]
  std::vector<T> qp_;                   // [Dg][kRows][kPack]
  std::vector<T> dq_;                   // [kRows][D]
  std::vector<T> dRdiff_;               // D: sum of G (q - k)
  std::vector<T> expo_;                 // [kRows][kKeyTile]
};

// ---- the blocked skeleton ---------------------------------------------------------------------

// Forward, query rows [i0, i1) of head (b, h) in blocks of kRows; probs (if asked for) in a
// second pass over the block's tiles once its lse is known.
template <typename T, class Score>
class BlockedForward {
 public:
  static constexpr int kRowAlign = kRows;
  explicit BlockedForward(const AttentionParams<T>& p)
      : p_(p), score_(p), Dp_(round_up(p.D, simd::Vec<T>::kLanes)), acc_(kRows * Dp_),
        s_(kRows * kKeyTile), w_(kRows * kKeyTile) {}

  void rows(int b, int h, int i0, int i1) {
    const AttentionParams<T>& p = p_;
    const int D = p.D, Dp = Dp_;
    const int nk = key_limit(p.causal, i1 - 1, p.Nq, p.Nk);  // keys any of these rows sees
    const int ld = round_up(std::max(nk, 1), kKeyStep<T>);
    score_.set_keys(head_ptr(p.k, p.k_strides, b, h), p.k_strides.token, nk, ld, false);
    load_rows(head_ptr(p.v, p.v_strides, b, h), p.v_strides.token, nk, D, Dp, ld, vr_);
    const T* q = head_ptr(p.q, p.q_strides, b, h);
    T* out = head_ptr(p.out, p.out_strides, b, h);
    T* lse = p.lse + (std::int64_t(b) * p.H + h) * p.Nq;
    T* __restrict s = s_.data();
    T* __restrict w = w_.data();
    T* acc = acc_.data();

    for (int ib = i0; ib < i1; ib += kRows) {
      const BlockRows blk(p, ib, i1);
      score_.set_queries(q, p.q_strides.token, ib, blk.rows);
      am::SoftmaxState<T> state[kRows];
      for (auto& st : state) st = am::softmax_init(score_.log_eps());
      std::fill(acc, acc + kRows * Dp, T(0));
      for (int j0 = 0; j0 < blk.max_limit; j0 += kKeyTile) {
        const int n = round_up(std::min(kKeyTile, blk.max_limit - j0), kKeyStep<T>);
        score_.scores(j0, n, s);
        for (int r = 0; r < kRows; ++r) {
          T* __restrict sr = s + r * kKeyTile;
          T* __restrict wr = w + r * kKeyTile;
          const int valid = std::clamp(blk.limit[r] - j0, 0, n);
          std::fill(sr + valid, sr + n, am::neg_inf<T>());  // masked and padding keys
          T tile_max = am::neg_inf<T>();
#pragma omp simd reduction(max : tile_max)
          for (int jj = 0; jj < valid; ++jj) tile_max = std::max(tile_max, sr[jj]);
          const T alpha = am::softmax_rescale(state[r], std::max(state[r].m, tile_max));
          state[r].l += exp_row(sr, am::softmax_ref(state[r].m), n, wr);
#pragma omp simd
          for (int e = 0; e < Dp; ++e) acc[r * Dp + e] *= alpha;
        }
        weights_times_rows(w, kKeyTile, n, vr_.data() + std::size_t(j0) * Dp, Dp, acc);
      }
      T row_lse[kRows];
      for (int r = 0; r < blk.rows; ++r) {
        const T inv = state[r].l > T(0) ? T(1) / state[r].l : T(0);
        T* oi = out + (ib + r) * p.out_strides.token;
        for (int d = 0; d < D; ++d) oi[d] = acc[r * Dp + d] * inv;
        row_lse[r] = lse[ib + r] = am::softmax_lse(state[r]);
      }
      if (p.probs) write_probs(b, h, ib, blk, row_lse);
    }
  }

 private:
  // probs[i][j] = exp(s_ij - lse_i) for the keys row i sees, 0 beyond.
  void write_probs(int b, int h, int ib, const BlockRows& blk, const T* row_lse) {
    const AttentionParams<T>& p = p_;
    T* __restrict s = s_.data();
    for (int j0 = 0; j0 < blk.max_limit; j0 += kKeyTile) {
      const int n = round_up(std::min(kKeyTile, blk.max_limit - j0), kKeyStep<T>);
      score_.scores(j0, n, s);
      for (int r = 0; r < blk.rows; ++r) {
        T* pi = p.probs + ((std::int64_t(b) * p.H + h) * p.Nq + ib + r) * p.Nk;
        const int valid = std::clamp(blk.limit[r] - j0, 0, n);
        for (int jj = 0; jj < valid; ++jj) pi[j0 + jj] = am::softmax_weight(s[r * kKeyTile + jj], row_lse[r]);
      }
    }
    for (int r = 0; r < blk.rows; ++r) {
      T* pi = p.probs + ((std::int64_t(b) * p.H + h) * p.Nq + ib + r) * p.Nk;
      std::fill(pi + blk.limit[r], pi + p.Nk, T(0));
    }
  }

  const AttentionParams<T>& p_;
  Score score_;
  int Dp_;  // D rounded up to the SIMD lanes
  std::vector<T> vr_;      // [keys][Dp]
  std::vector<T> acc_;     // [kRows][Dp]: O sums
  std::vector<T> s_, w_;   // [kRows][kKeyTile]
};

// Backward of head (b, h): with P recomputed from lse, dP = dO V^T, dS = P (dP - rowsum(dO O)),
// dV += P^T dO here and dQ, dK, dR from dS in the score policy.
template <typename T, class Score>
class BlockedBackward {
 public:
  explicit BlockedBackward(const AttentionBackwardParams<T>& bp)
      : bp_(bp), score_(bp.fwd), Dp_(round_up(bp.fwd.D, simd::Vec<T>::kLanes)), g_(kRows * Dp_),
        s_(kRows * kKeyTile), w_(kRows * kKeyTile), ds_(kRows * kKeyTile) {}

  void head(int b, int h, T* dR_head) {
    const AttentionParams<T>& p = bp_.fwd;
    const int D = p.D, Dp = Dp_, Nk = p.Nk;
    const int ld = round_up(std::max(Nk, 1), kKeyStep<T>);
    score_.set_keys(head_ptr(p.k, p.k_strides, b, h), p.k_strides.token, Nk, ld, true);
    load_transposed(head_ptr(p.v, p.v_strides, b, h), p.v_strides.token, Nk, D, ld, T(0), vT_);
    dv_.assign(std::size_t(ld) * Dp, T(0));
    const T* q = head_ptr(p.q, p.q_strides, b, h);
    const T* o = head_ptr(static_cast<const T*>(p.out), p.out_strides, b, h);
    const T* dout = head_ptr(bp_.dout, bp_.dout_strides, b, h);
    const T* lse = p.lse + (std::int64_t(b) * p.H + h) * p.Nq;
    T* dq = head_ptr(bp_.dq, bp_.dq_strides, b, h);
    T* __restrict s = s_.data();
    T* __restrict w = w_.data();
    T* __restrict ds = ds_.data();
    T* g = g_.data();

    for (int ib = 0; ib < p.Nq; ib += kRows) {
      const BlockRows blk(p, ib, p.Nq);
      score_.set_queries(q, p.q_strides.token, ib, blk.rows);
      load_query_rows(dout, bp_.dout_strides.token, ib, blk.rows, D, T(1), Dp, g);
      T delta[kRows], row_lse[kRows];
      for (int r = 0; r < kRows; ++r) {
        delta[r] = 0;
        row_lse[r] = r < blk.rows ? lse[ib + r] : am::neg_inf<T>();
        if (r >= blk.rows) continue;
        const T* oi = o + (ib + r) * p.out_strides.token;
        for (int d = 0; d < D; ++d) delta[r] += g[r * Dp + d] * oi[d];
      }
      for (int j0 = 0; j0 < blk.max_limit; j0 += kKeyTile) {
        const int n = round_up(std::min(kKeyTile, blk.max_limit - j0), kKeyStep<T>);
        score_.scores(j0, n, s);
        rows_dot_columns(g, Dp, vT_.data() + j0, ld, D, n, ds, kKeyTile);
        for (int r = 0; r < kRows; ++r) {
          const int valid = std::clamp(blk.limit[r] - j0, 0, n);
          T* __restrict sr = s + r * kKeyTile;
          T* __restrict wr = w + r * kKeyTile;
          T* __restrict dsr = ds + r * kKeyTile;
          // P = softmax_weight(s, lse): exp(s - lse), 0 for masked keys and rows without any.
          const int live = row_lse[r] == am::neg_inf<T>() ? 0 : valid;
          exp_row(sr, row_lse[r], live, wr);
          std::fill(wr + live, wr + n, T(0));
          const T dr = delta[r];
#pragma omp simd
          for (int jj = 0; jj < n; ++jj) dsr[jj] = wr[jj] * (dsr[jj] - dr);
        }
        rank_update(w, kKeyTile, n, g, Dp, dv_.data() + std::size_t(j0) * Dp);
        score_.grads(ds, j0, n);
      }
      score_.write_dq(blk.rows, dq + ib * bp_.dq_strides.token, bp_.dq_strides.token);
    }
    score_.write_dk(head_ptr(bp_.dk, bp_.dk_strides, b, h), bp_.dk_strides.token, Nk);
    T* dv = head_ptr(bp_.dv, bp_.dv_strides, b, h);
    for (int j = 0; j < Nk; ++j) std::copy_n(dv_.data() + std::size_t(j) * Dp, D, dv + j * bp_.dv_strides.token);
    score_.write_dR(dR_head);
  }

 private:
  const AttentionBackwardParams<T>& bp_;
  Score score_;
  int Dp_;
  std::vector<T> vT_;          // [D][ld]
  std::vector<T> dv_;          // [ld][Dp]
  std::vector<T> g_;           // [kRows][Dp]: dO rows
  std::vector<T> s_, w_, ds_;  // [kRows][kKeyTile]
};

// Worker: rows(b, h, i0, i1) computes the forward of query rows [i0, i1) of head (b, h); i0 is
// a multiple of Worker::kRowAlign.
template <typename T, class Worker>
void forward_impl(const AttentionParams<T>& p) {
  const int heads = p.B * p.H;
  // Enough query chunks per head to keep every thread busy when B * H is small.
  const int threads = omp_get_max_threads();
  const int max_chunks = std::max(1, (p.Nq + 31) / 32);
  const int chunks = std::clamp((4 * threads + heads - 1) / heads, 1, max_chunks);
  const int rows_per_chunk = round_up((p.Nq + chunks - 1) / chunks, Worker::kRowAlign);
  const std::int64_t tasks = std::int64_t(heads) * chunks;
#pragma omp parallel
  {
    Worker worker(p);
#pragma omp for schedule(dynamic)
    for (std::int64_t t = 0; t < tasks; ++t) {
      const int bh = int(t / chunks), c = int(t % chunks);
      const int i0 = c * rows_per_chunk, i1 = std::min(p.Nq, i0 + rows_per_chunk);
      if (i0 < i1) worker.rows(bh / p.H, bh % p.H, i0, i1);
    }
  }
}

// Worker: head(b, h, dR_head) computes dq, dk, dv of head (b, h) and writes its D dR terms.
template <typename T, class Worker>
void backward_impl(const AttentionBackwardParams<T>& bp) {
  const AttentionParams<T>& p = bp.fwd;
  const int heads = p.B * p.H;
  std::vector<T> dR_heads(std::size_t(heads) * p.D, T(0));
#pragma omp parallel
  {
    Worker worker(bp);
#pragma omp for schedule(dynamic)
    for (int bh = 0; bh < heads; ++bh) worker.head(bh / p.H, bh % p.H, dR_heads.data() + std::size_t(bh) * p.D);
  }
  // dR: summed over heads in a fixed order, so the result does not depend on the threads.
  if (p.score == AttentionScore::Fourier && bp.dR) {
    std::vector<T> total(p.D, T(0));
    for (int bh = 0; bh < heads; ++bh)
      for (int d = 0; d < p.D; ++d) total[d] += dR_heads[std::size_t(bh) * p.D + d];
    if (p.R_per_dim) {
      for (int d = 0; d < p.D; ++d) bp.dR[d] += total[d];
    } else {
      T sum = 0;
      for (int d = 0; d < p.D; ++d) sum += total[d];
      bp.dR[0] += sum;
    }
  }
}

}  // namespace

template <typename T>
void attention_forward(Exec, const AttentionParams<T>& p) {
  check_attention_params(p);
  if (p.B == 0 || p.H == 0 || p.Nq == 0) return;
  if (p.score == AttentionScore::Fourier)
    forward_impl<T, BlockedForward<T, FourierScore<T>>>(p);
  else
    forward_impl<T, BlockedForward<T, DotScore<T>>>(p);
}

template <typename T>
void attention_backward(Exec, const AttentionBackwardParams<T>& bp) {
  check_attention_backward_params(bp);
  if (bp.fwd.B == 0 || bp.fwd.H == 0) return;
  if (bp.fwd.score == AttentionScore::Fourier)
    backward_impl<T, BlockedBackward<T, FourierScore<T>>>(bp);
  else
    backward_impl<T, BlockedBackward<T, DotScore<T>>>(bp);
}

template void attention_forward<float>(Exec, const AttentionParams<float>&);
template void attention_forward<double>(Exec, const AttentionParams<double>&);
template void attention_backward<float>(Exec, const AttentionBackwardParams<float>&);
template void attention_backward<double>(Exec, const AttentionBackwardParams<double>&);

}  // namespace ff::kernels::cpu
