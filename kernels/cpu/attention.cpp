// CPU fused attention. Two kernels share the parallel skeleton (forward_impl over (batch, head,
// query chunk), backward_impl over (batch, head): a head's dk, dv belong to one thread) and
// the online softmax of attention_math.h, over key tiles of kKeyTile keys so the extra memory
// is O(Nk * D) per thread:
//
// - The dot score without probs: register-blocked (DotForward, DotBackward). A block of kRows
//   query rows meets a tile of keys through three micro-kernels whose accumulators live in
//   SIMD registers (simd.h): scores S = Q K^T (and dP = dO V^T), weighted rows O += P V (and
//   dQ += dS K), and the rank-kRows update dV += P^T dO (and dK += dS^T Q). Keys and values
//   are read once per query block, not once per query.
// - The Fourier score (and the dot score when probs are asked for): one query row at a time
//   over a score policy (forward_rows / backward_head with FourierScore or DotScore), keys laid
//   out [d][j] so every inner loop runs over keys in contiguous SIMD lanes.

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
constexpr int kGroup = 4;      // sinc factors multiplied before one division and one log
// Key loops run over a multiple of kLanes (padded keys are zero and masked), so no scalar
// remainder loop ever runs.
constexpr int kLanes = 16;

inline int round_up(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }
inline int round_up_lanes(int n) { return round_up(n, kLanes); }

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

// s_ij = scale * q_i . k_j, one query row at a time: only for the forward with probs (the
// blocked DotForward, DotBackward do the rest).
template <typename T>
class DotScore {
 public:
  explicit DotScore(const AttentionParams<T>& p) : D_(p.D), scale_(p.scale), q_(p.D) {}

  T log_eps() const { return am::neg_inf<T>(); }

  // Keys [0, n) of one head, (n, D) rows with the given token stride.
  void set_keys(const T* k, std::int64_t token_stride, int n) {
    nk_ = round_up_lanes(n);
    load_transposed(k, token_stride, n, D_, nk_, T(0), kT_);
  }
  void set_query(const T* q) { std::copy(q, q + D_, q_.begin()); }

  // s[jj] for keys j0 + jj, jj < n.
  void scores(int j0, int n, T* __restrict s) const {
    std::fill(s, s + n, T(0));
    for (int d = 0; d < D_; ++d) {
      const T qd = q_[d];
      const T* __restrict kd = kT_.data() + std::size_t(d) * nk_ + j0;
#pragma omp simd
      for (int jj = 0; jj < n; ++jj) s[jj] += qd * kd[jj];
    }
#pragma omp simd
    for (int jj = 0; jj < n; ++jj) s[jj] *= scale_;
  }

 private:
  int D_;
  T scale_;
  int nk_ = 0;
  std::vector<T> q_, kT_;
};

// s_ij = p * sum_d log|sinc(R_d (q_id - k_jd))|.
template <typename T>
class FourierScore {
 public:
  explicit FourierScore(const AttentionParams<T>& p)
      : D_(p.D), p_(T(p.p)), R_(p.D), qr_(p.D), qs_(p.D), qc_(p.D), tmp_(p.D) {
    for (int d = 0; d < D_; ++d) R_[d] = p.R_per_dim ? p.R[d] : p.R[0];
    log_eps_ = p.eps > T(0) ? T(std::log(double(p.eps))) : am::neg_inf<T>();
  }

  T log_eps() const { return log_eps_; }

  void set_keys(const T* k, std::int64_t token_stride, int n) {
    nk_ = round_up_lanes(n);
    const std::size_t size = std::size_t(D_) * nk_;
    kr_.assign(size, T(0));  // padded keys: k = 0, sin = 0, cos = 1 (finite everywhere)
    ks_.assign(size, T(0));
    kc_.assign(size, T(1));
    std::vector<T> s(D_), c(D_);
    for (int j = 0; j < n; ++j) {
      const T* kj = k + j * token_stride;
      for (int d = 0; d < D_; ++d) tmp_[d] = R_[d] * kj[d];
      sincos_row(tmp_.data(), D_, s.data(), c.data());
      for (int d = 0; d < D_; ++d) {
        kr_[std::size_t(d) * nk_ + j] = kj[d];
        ks_[std::size_t(d) * nk_ + j] = s[d];
        kc_[std::size_t(d) * nk_ + j] = c[d];
      }
    }
  }

  void set_query(const T* q) {
    std::copy(q, q + D_, qr_.begin());
    for (int d = 0; d < D_; ++d) tmp_[d] = R_[d] * q[d];
    sincos_row(tmp_.data(), D_, qs_.data(), qc_.data());
  }

  void scores(int j0, int n, T* __restrict s) const {
    std::fill(s, s + n, T(0));
    int d0 = 0;
    for (; d0 + kGroup <= D_; d0 += kGroup) add_group<kGroup>(d0, j0, n, s);
    switch (D_ - d0) {
      case 3: add_group<3>(d0, j0, n, s); break;
      case 2: add_group<2>(d0, j0, n, s); break;
      case 1: add_group<1>(d0, j0, n, s); break;
      default: break;
    }
#pragma omp simd
    for (int jj = 0; jj < n; ++jj) s[jj] *= p_;
  }

  // G_jd = dS_j g(x_jd): dq_acc[d] += sum_j G_jd, dkT[d][j] += G_jd,
  // dR_acc[d] += sum_j G_jd (q_d - k_jd); the factors p R_d, -p R_d, p come in finish.
  void grads(const T* __restrict dS, int j0, int n, T* dq_acc, T* __restrict dkT,
             T* dR_acc) const {
    for (int d = 0; d < D_; ++d) {
      const std::size_t off = std::size_t(d) * nk_ + j0;
      const T* __restrict kr = kr_.data() + off;
      const T* __restrict ks = ks_.data() + off;
      const T* __restrict kc = kc_.data() + off;
      T* __restrict dkd = dkT + off;
      const T qr = qr_[d], qs = qs_[d], qc = qc_[d], R = R_[d];
      T acc = 0, racc = 0;
#pragma omp simd reduction(+ : acc, racc)
      for (int jj = 0; jj < n; ++jj) {
        const T diff = qr - kr[jj];
        const T x = R * diff;
        const T sn = am::sin_diff(qs, qc, ks[jj], kc[jj]);
        const T cs = am::cos_diff(qs, qc, ks[jj], kc[jj]);
        const T G = dS[jj] * am::log_sinc_deriv(x, sn, cs);
        acc += G;
        racc += G * diff;
        dkd[jj] += G;
      }
      dq_acc[d] += acc;
      dR_acc[d] += racc;
    }
  }
  T dq_factor(int d) const { return p_ * R_[d]; }
  T dk_factor(int d) const { return -p_ * R_[d]; }
  // dR_d = p * sum G (q - k).
  void finish_dR(const T* dR_acc, T* dR_head) const {
    for (int d = 0; d < D_; ++d) dR_head[d] = p_ * dR_acc[d];
  }

 private:
  // s[jj] += log|prod_{d0 <= d < d0+G} sinc(x_d)| for keys j0 + jj.
  template <int G>
  void add_group(int d0, int j0, int n, T* __restrict s) const {
    const std::size_t off = std::size_t(d0) * nk_ + j0;
    const std::size_t stride = nk_;
    const T* __restrict kr = kr_.data() + off;
    const T* __restrict ks = ks_.data() + off;
    const T* __restrict kc = kc_.data() + off;
    T qr[G], qs[G], qc[G], R[G];
    for (int g = 0; g < G; ++g) {
      qr[g] = qr_[d0 + g];
      qs[g] = qs_[d0 + g];
      qc[g] = qc_[d0 + g];
      R[g] = R_[d0 + g];
    }
#pragma omp simd
    for (int jj = 0; jj < n; ++jj) {
      T num = T(1), den = T(1);
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g) {
        const std::size_t e = g * stride + jj;
        const T x = R[g] * (qr[g] - kr[e]);
        const T sn = am::sin_diff(qs[g], qc[g], ks[e], kc[e]);
        T fn, fd;
        am::sinc_factor(x, sn, fn, fd);
        num *= fn;
        den *= fd;
      }
      s[jj] += am::log_abs_ratio(num, den);
    }
  }

  int D_;
  T p_;
  T log_eps_;
  int nk_ = 0;
  std::vector<T> R_, qr_, qs_, qc_, tmp_;
  std::vector<T> kr_, ks_, kc_;  // [D][Nk]: raw k, sin(R k), cos(R k)
};

// Per-thread buffers of one head.
template <typename T>
struct HeadBuffers {
  std::vector<T> vT;         // [D][Nk]
  std::vector<T> s, w, dp;   // kKeyTile
  std::vector<T> acc;        // D
  std::vector<T> dkT, dvT;   // [D][Nk]
  std::vector<T> dq_acc, dR_acc;  // D

  HeadBuffers(int D) : s(kKeyTile), w(kKeyTile), dp(kKeyTile), acc(D), dq_acc(D), dR_acc(D) {}

  int stride = 0;  // of the [D][.] arrays: keys rounded up to kLanes, padding 0

  void set_values(const T* v, std::int64_t token_stride, int n, int D) {
    stride = round_up_lanes(n);
    load_transposed(v, token_stride, n, D, stride, T(0), vT);
  }
};

// Forward for queries [i0, i1) of head (b, h).
template <typename T, class Score>
void forward_rows(const AttentionParams<T>& p, int b, int h, int i0, int i1, Score& score,
                  HeadBuffers<T>& buf) {
  const int D = p.D;
  const int nk = key_limit(p.causal, i1 - 1, p.Nq, p.Nk);  // keys any of these rows sees
  const T* q = head_ptr(p.q, p.q_strides, b, h);
  T* out = head_ptr(p.out, p.out_strides, b, h);
  T* lse = p.lse + (std::int64_t(b) * p.H + h) * p.Nq;
  score.set_keys(head_ptr(p.k, p.k_strides, b, h), p.k_strides.token, nk);
  buf.set_values(head_ptr(p.v, p.v_strides, b, h), p.v_strides.token, nk, D);
  T* __restrict s = buf.s.data();
  T* __restrict w = buf.w.data();
  T* __restrict acc = buf.acc.data();

  for (int i = i0; i < i1; ++i) {
    score.set_query(q + i * p.q_strides.token);
    const int limit = key_limit(p.causal, i, p.Nq, p.Nk);
    auto state = am::softmax_init(score.log_eps());
    std::fill(acc, acc + D, T(0));
    for (int j0 = 0; j0 < limit; j0 += kKeyTile) {
      const int n_real = std::min(kKeyTile, limit - j0);
      const int n = round_up_lanes(n_real);
      score.scores(j0, n, s);
      T tile_max = am::neg_inf<T>();
      for (int jj = 0; jj < n; ++jj) {
        s[jj] = jj < n_real ? s[jj] : am::neg_inf<T>();
        tile_max = std::max(tile_max, s[jj]);
      }
      const T alpha = am::softmax_rescale(state, std::max(state.m, tile_max));
      const T ref = am::softmax_ref(state.m);
      T sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int jj = 0; jj < n; ++jj) {
        w[jj] = am::exp_of(s[jj] - ref);
        sum += w[jj];
      }
      state.l += sum;
      for (int d = 0; d < D; ++d) {
        const T* __restrict vd = buf.vT.data() + std::size_t(d) * buf.stride + j0;
        T a = 0;
#pragma omp simd reduction(+ : a)
        for (int jj = 0; jj < n; ++jj) a += w[jj] * vd[jj];
        acc[d] = acc[d] * alpha + a;
      }
    }
    const T inv = state.l > T(0) ? T(1) / state.l : T(0);
    T* oi = out + i * p.out_strides.token;
    for (int d = 0; d < D; ++d) oi[d] = acc[d] * inv;
    const T row_lse = am::softmax_lse(state);
    lse[i] = row_lse;

    if (p.probs) {
      T* pi = p.probs + ((std::int64_t(b) * p.H + h) * p.Nq + i) * p.Nk;
      for (int j0 = 0; j0 < limit; j0 += kKeyTile) {
        const int n = std::min(kKeyTile, limit - j0);
        score.scores(j0, round_up_lanes(n), s);
        for (int jj = 0; jj < n; ++jj) pi[j0 + jj] = am::softmax_weight(s[jj], row_lse);
      }
      std::fill(pi + std::max(limit, 0), pi + p.Nk, T(0));
    }
  }
}

// Backward of head (b, h): dq rows, dk and dv of the head, and the head's dR terms.
template <typename T, class Score>
void backward_head(const AttentionBackwardParams<T>& bp, int b, int h, Score& score,
                   HeadBuffers<T>& buf, T* dR_head) {
  const AttentionParams<T>& p = bp.fwd;
  const int D = p.D, Nk = p.Nk;
  const T* q = head_ptr(p.q, p.q_strides, b, h);
  const T* o = head_ptr(static_cast<const T*>(p.out), p.out_strides, b, h);
  const T* dout = head_ptr(bp.dout, bp.dout_strides, b, h);
  const T* lse = p.lse + (std::int64_t(b) * p.H + h) * p.Nq;
  T* dq = head_ptr(bp.dq, bp.dq_strides, b, h);
  T* dk = head_ptr(bp.dk, bp.dk_strides, b, h);
  T* dv = head_ptr(bp.dv, bp.dv_strides, b, h);

  score.set_keys(head_ptr(p.k, p.k_strides, b, h), p.k_strides.token, Nk);
  buf.set_values(head_ptr(p.v, p.v_strides, b, h), p.v_strides.token, Nk, D);
  const int stride = buf.stride;
  buf.dkT.assign(std::size_t(D) * stride, T(0));
  buf.dvT.assign(std::size_t(D) * stride, T(0));
  std::fill(buf.dR_acc.begin(), buf.dR_acc.end(), T(0));
  T* __restrict s = buf.s.data();
  T* __restrict w = buf.w.data();
  T* __restrict dp = buf.dp.data();
  T* dq_acc = buf.dq_acc.data();

  for (int i = 0; i < p.Nq; ++i) {
    const T* qi = q + i * p.q_strides.token;
    const T* oi = o + i * p.out_strides.token;
    const T* gi = dout + i * bp.dout_strides.token;
    score.set_query(qi);
    const int limit = key_limit(p.causal, i, p.Nq, Nk);
    const T row_lse = lse[i];
    T delta = 0;  // rowsum(dO * O)
    for (int d = 0; d < D; ++d) delta += gi[d] * oi[d];
    std::fill(dq_acc, dq_acc + D, T(0));
    for (int j0 = 0; j0 < limit; j0 += kKeyTile) {
      const int n_real = std::min(kKeyTile, limit - j0);
      const int n = round_up_lanes(n_real);
      score.scores(j0, n, s);
#pragma omp simd
      for (int jj = 0; jj < n; ++jj) {
        const T weight = am::softmax_weight(s[jj], row_lse);
        w[jj] = jj < n_real ? weight : T(0);
        dp[jj] = 0;
      }
      for (int d = 0; d < D; ++d) {
        const T gd = gi[d];
        const T* __restrict vd = buf.vT.data() + std::size_t(d) * stride + j0;
        T* __restrict dvd = buf.dvT.data() + std::size_t(d) * stride + j0;
#pragma omp simd
        for (int jj = 0; jj < n; ++jj) {
          dp[jj] += gd * vd[jj];
          dvd[jj] += w[jj] * gd;
        }
      }
#pragma omp simd
      for (int jj = 0; jj < n; ++jj) dp[jj] = w[jj] * (dp[jj] - delta);  // dS
      score.grads(dp, j0, n, dq_acc, buf.dkT.data(), buf.dR_acc.data());
    }
    T* dqi = dq + i * bp.dq_strides.token;
    for (int d = 0; d < D; ++d) dqi[d] = score.dq_factor(d) * dq_acc[d];
  }
  for (int j = 0; j < Nk; ++j) {
    T* dkj = dk + j * bp.dk_strides.token;
    T* dvj = dv + j * bp.dv_strides.token;
    for (int d = 0; d < D; ++d) {
      dkj[d] = score.dk_factor(d) * buf.dkT[std::size_t(d) * stride + j];
      dvj[d] = buf.dvT[std::size_t(d) * stride + j];
    }
  }
  score.finish_dR(buf.dR_acc.data(), dR_head);
}

// ---- register-blocked dot score -------------------------------------------------------------

constexpr int kRows = 6;  // query rows per block
template <typename T>
constexpr int kKeyStep = 2 * simd::Vec<T>::kLanes;  // keys per score micro-tile (2 vectors)

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

// One block of up to kRows query rows [i0, i0 + rows): rows scaled by `scale` into
// [kRows][Dp] (zero rows and dims beyond), each row's key limit (0 for the padding rows).
template <typename T>
struct QueryBlock {
  int rows = 0;
  int limit[kRows] = {};
  int max_limit = 0;

  void load(const AttentionParams<T>& p, const T* x, std::int64_t token_stride, int i0, int i1, T scale,
            int Dp, T* block) {
    rows = std::min(kRows, i1 - i0);
    max_limit = 0;
    std::fill(block, block + kRows * Dp, T(0));
    for (int r = 0; r < kRows; ++r) {
      limit[r] = r < rows ? key_limit(p.causal, i0 + r, p.Nq, p.Nk) : 0;
      max_limit = std::max(max_limit, limit[r]);
      if (r < rows)
        for (int d = 0; d < p.D; ++d) block[r * Dp + d] = scale * x[(i0 + r) * token_stride + d];
    }
  }
};

// Per-thread buffers of the blocked dot kernels: Dp = D rounded up to the SIMD lanes.
template <typename T>
struct DotBuffers {
  int Dp;
  std::vector<T> kT, vT;          // [D][keys], keys padded to kKeyStep with zeros
  std::vector<T> kr, vr, dk, dv;  // [keys][Dp]
  std::vector<T> q, g, acc;       // [kRows][Dp]: scaled queries, dO rows, O or dQ sums
  std::vector<T> s, w, dp;        // [kRows][kKeyTile]

  explicit DotBuffers(int D)
      : Dp(round_up(D, simd::Vec<T>::kLanes)), q(kRows * Dp), g(kRows * Dp), acc(kRows * Dp),
        s(kRows * kKeyTile), w(kRows * kKeyTile), dp(kRows * kKeyTile) {}
};

// Forward of the dot score, query rows [i0, i1) of head (b, h) in blocks of kRows.
template <typename T>
class DotForward {
 public:
  static constexpr int kRowAlign = kRows;
  explicit DotForward(const AttentionParams<T>& p) : p_(p), buf_(p.D) {}

  void rows(int b, int h, int i0, int i1) {
    const AttentionParams<T>& p = p_;
    const int D = p.D, Dp = buf_.Dp;
    const int nk = key_limit(p.causal, i1 - 1, p.Nq, p.Nk);  // keys any of these rows sees
    const int ld = round_up(std::max(nk, 1), kKeyStep<T>);
    load_transposed(head_ptr(p.k, p.k_strides, b, h), p.k_strides.token, nk, D, ld, T(0), buf_.kT);
    load_rows(head_ptr(p.v, p.v_strides, b, h), p.v_strides.token, nk, D, Dp, ld, buf_.vr);
    const T* q = head_ptr(p.q, p.q_strides, b, h);
    T* out = head_ptr(p.out, p.out_strides, b, h);
    T* lse = p.lse + (std::int64_t(b) * p.H + h) * p.Nq;
    T* __restrict s = buf_.s.data();
    T* __restrict w = buf_.w.data();
    T* acc = buf_.acc.data();

    for (int ib = i0; ib < i1; ib += kRows) {
      QueryBlock<T> blk;
      blk.load(p, q, p.q_strides.token, ib, i1, p.scale, Dp, buf_.q.data());
      am::SoftmaxState<T> state[kRows];
      for (auto& st : state) st = am::softmax_init(am::neg_inf<T>());
      std::fill(acc, acc + kRows * Dp, T(0));
      for (int j0 = 0; j0 < blk.max_limit; j0 += kKeyTile) {
        const int n = round_up(std::min(kKeyTile, blk.max_limit - j0), kKeyStep<T>);
        rows_dot_columns(buf_.q.data(), Dp, buf_.kT.data() + j0, ld, D, n, s, kKeyTile);
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
        weights_times_rows(w, kKeyTile, n, buf_.vr.data() + std::size_t(j0) * Dp, Dp, acc);
      }
      for (int r = 0; r < blk.rows; ++r) {
        const T inv = state[r].l > T(0) ? T(1) / state[r].l : T(0);
        T* oi = out + (ib + r) * p.out_strides.token;
        for (int d = 0; d < D; ++d) oi[d] = acc[r * Dp + d] * inv;
        lse[ib + r] = am::softmax_lse(state[r]);
      }
    }
  }

 private:
  const AttentionParams<T>& p_;
  DotBuffers<T> buf_;
};

// Backward of the dot score for head (b, h): with P recomputed from lse, dP = dO V^T,
// dS = P (dP - rowsum(dO O)): dV += P^T dO, dK += dS^T (scale Q), dQ = scale dS K.
template <typename T>
class DotBackward {
 public:
  explicit DotBackward(const AttentionBackwardParams<T>& bp) : bp_(bp), buf_(bp.fwd.D) {}

  void head(int b, int h, T*) {
    const AttentionParams<T>& p = bp_.fwd;
    const int D = p.D, Dp = buf_.Dp, Nk = p.Nk;
    const int ld = round_up(std::max(Nk, 1), kKeyStep<T>);
    const T* k = head_ptr(p.k, p.k_strides, b, h);
    const T* v = head_ptr(p.v, p.v_strides, b, h);
    load_transposed(k, p.k_strides.token, Nk, D, ld, T(0), buf_.kT);
    load_transposed(v, p.v_strides.token, Nk, D, ld, T(0), buf_.vT);
    load_rows(k, p.k_strides.token, Nk, D, Dp, ld, buf_.kr);
    buf_.dk.assign(std::size_t(ld) * Dp, T(0));
    buf_.dv.assign(std::size_t(ld) * Dp, T(0));
    const T* q = head_ptr(p.q, p.q_strides, b, h);
    const T* o = head_ptr(static_cast<const T*>(p.out), p.out_strides, b, h);
    const T* dout = head_ptr(bp_.dout, bp_.dout_strides, b, h);
    const T* lse = p.lse + (std::int64_t(b) * p.H + h) * p.Nq;
    T* dq = head_ptr(bp_.dq, bp_.dq_strides, b, h);
    T* __restrict s = buf_.s.data();
    T* __restrict w = buf_.w.data();
    T* __restrict ds = buf_.dp.data();
    T* dq_acc = buf_.acc.data();

    for (int ib = 0; ib < p.Nq; ib += kRows) {
      QueryBlock<T> blk;
      blk.load(p, q, p.q_strides.token, ib, p.Nq, p.scale, Dp, buf_.q.data());
      QueryBlock<T> gblk;  // dO rows (unscaled); same limits
      gblk.load(p, dout, bp_.dout_strides.token, ib, p.Nq, T(1), Dp, buf_.g.data());
      T delta[kRows], row_lse[kRows];
      for (int r = 0; r < kRows; ++r) {
        delta[r] = 0;
        row_lse[r] = r < blk.rows ? lse[ib + r] : am::neg_inf<T>();
        if (r >= blk.rows) continue;
        const T* oi = o + (ib + r) * p.out_strides.token;
        for (int d = 0; d < D; ++d) delta[r] += buf_.g[r * Dp + d] * oi[d];
      }
      std::fill(dq_acc, dq_acc + kRows * Dp, T(0));
      for (int j0 = 0; j0 < blk.max_limit; j0 += kKeyTile) {
        const int n = round_up(std::min(kKeyTile, blk.max_limit - j0), kKeyStep<T>);
        rows_dot_columns(buf_.q.data(), Dp, buf_.kT.data() + j0, ld, D, n, s, kKeyTile);
        rows_dot_columns(buf_.g.data(), Dp, buf_.vT.data() + j0, ld, D, n, ds, kKeyTile);
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
        const std::size_t off = std::size_t(j0) * Dp;
        rank_update(w, kKeyTile, n, buf_.g.data(), Dp, buf_.dv.data() + off);
        rank_update(ds, kKeyTile, n, buf_.q.data(), Dp, buf_.dk.data() + off);
        weights_times_rows(ds, kKeyTile, n, buf_.kr.data() + off, Dp, dq_acc);
      }
      for (int r = 0; r < blk.rows; ++r) {
        T* dqi = dq + (ib + r) * bp_.dq_strides.token;
        for (int d = 0; d < D; ++d) dqi[d] = p.scale * dq_acc[r * Dp + d];
      }
    }
    T* dk = head_ptr(bp_.dk, bp_.dk_strides, b, h);
    T* dv = head_ptr(bp_.dv, bp_.dv_strides, b, h);
    for (int j = 0; j < Nk; ++j) {
      std::copy_n(buf_.dk.data() + std::size_t(j) * Dp, D, dk + j * bp_.dk_strides.token);
      std::copy_n(buf_.dv.data() + std::size_t(j) * Dp, D, dv + j * bp_.dv_strides.token);
    }
  }

 private:
  const AttentionBackwardParams<T>& bp_;
  DotBuffers<T> buf_;
};

// The one-row-at-a-time skeleton as workers of forward_impl / backward_impl.
template <typename T, class Score>
class RowForward {
 public:
  static constexpr int kRowAlign = 1;
  explicit RowForward(const AttentionParams<T>& p) : p_(p), score_(p), buf_(p.D) {}
  void rows(int b, int h, int i0, int i1) { forward_rows(p_, b, h, i0, i1, score_, buf_); }

 private:
  const AttentionParams<T>& p_;
  Score score_;
  HeadBuffers<T> buf_;
};
template <typename T, class Score>
class RowBackward {
 public:
  explicit RowBackward(const AttentionBackwardParams<T>& bp) : bp_(bp), score_(bp.fwd), buf_(bp.fwd.D) {}
  void head(int b, int h, T* dR_head) { backward_head(bp_, b, h, score_, buf_, dR_head); }

 private:
  const AttentionBackwardParams<T>& bp_;
  Score score_;
  HeadBuffers<T> buf_;
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
    forward_impl<T, RowForward<T, FourierScore<T>>>(p);
  else if (p.probs)
    forward_impl<T, RowForward<T, DotScore<T>>>(p);
  else
    forward_impl<T, DotForward<T>>(p);
}

template <typename T>
void attention_backward(Exec, const AttentionBackwardParams<T>& bp) {
  check_attention_backward_params(bp);
  if (bp.fwd.B == 0 || bp.fwd.H == 0) return;
  if (bp.fwd.score == AttentionScore::Fourier)
    backward_impl<T, RowBackward<T, FourierScore<T>>>(bp);
  else
    backward_impl<T, DotBackward<T>>(bp);
}

template void attention_forward<float>(Exec, const AttentionParams<float>&);
template void attention_forward<double>(Exec, const AttentionParams<double>&);
template void attention_backward<float>(Exec, const AttentionBackwardParams<float>&);
template void attention_backward<double>(Exec, const AttentionBackwardParams<double>&);

}  // namespace ff::kernels::cpu
