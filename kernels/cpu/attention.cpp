// CPU fused attention: one skeleton (forward_rows / backward_head) over two score policies
// (DotScore, FourierScore). Keys of one head are laid out [d][j] so every inner loop runs over
// keys in contiguous SIMD lanes; an online softmax over key tiles of kKeyTile keeps the extra
// memory O(Nk * D) per thread. Parallel over (batch, head, query chunk) in the forward and
// over (batch, head) in the backward (a head's dk, dv belong to one thread).

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/attention.h"
#include "kernels/attention_math.h"
#include "kernels/common.h"

namespace ff::kernels::cpu {
namespace {

namespace am = attention_math;

constexpr int kKeyTile = 128;  // keys per online-softmax step
constexpr int kGroup = 4;      // sinc factors multiplied before one division and one log
// Key loops run over a multiple of kLanes (padded keys are zero and masked), so no scalar
// remainder loop ever runs.
constexpr int kLanes = 16;

inline int round_up_lanes(int n) { return (n + kLanes - 1) / kLanes * kLanes; }

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

// s_ij = scale * q_i . k_j.
template <typename T>
class DotScore {
 public:
  explicit DotScore(const AttentionParams<T>& p) : D_(p.D), scale_(p.scale), q_(p.D) {}

  T log_eps() const { return am::neg_inf<T>(); }

  // Keys [0, n) of one head, (n, D) rows with the given token stride.
  void set_keys(const T* k, std::int64_t token_stride, int n) {
    nk_ = round_up_lanes(n);
    kT_.assign(std::size_t(D_) * nk_, T(0));
    for (int j = 0; j < n; ++j)
      for (int d = 0; d < D_; ++d) kT_[std::size_t(d) * nk_ + j] = k[j * token_stride + d];
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

  // Adds dS-weighted score derivatives: dq_acc[d] += sum_j dS_j dS/dq_d (before finish_dq),
  // dkT[d][j] += ..., dR_acc unused.
  void grads(const T* __restrict dS, int j0, int n, T* dq_acc, T* __restrict dkT, T*) const {
    for (int d = 0; d < D_; ++d) {
      const T qd = q_[d];
      const T* __restrict kd = kT_.data() + std::size_t(d) * nk_ + j0;
      T* __restrict dkd = dkT + std::size_t(d) * nk_ + j0;
      T acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int jj = 0; jj < n; ++jj) {
        acc += dS[jj] * kd[jj];
        dkd[jj] += dS[jj] * qd;
      }
      dq_acc[d] += acc;
    }
  }
  T dq_factor(int) const { return scale_; }
  T dk_factor(int) const { return scale_; }
  void finish_dR(const T*, T*) const {}

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
    vT.assign(std::size_t(D) * stride, T(0));
    for (int j = 0; j < n; ++j)
      for (int d = 0; d < D; ++d) vT[std::size_t(d) * stride + j] = v[j * token_stride + d];
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

template <typename T, class Score>
void forward_impl(const AttentionParams<T>& p) {
  const int heads = p.B * p.H;
  // Enough query chunks per head to keep every thread busy when B * H is small.
  const int threads = omp_get_max_threads();
  const int max_chunks = std::max(1, (p.Nq + 31) / 32);
  const int chunks = std::clamp((4 * threads + heads - 1) / heads, 1, max_chunks);
  const int rows_per_chunk = (p.Nq + chunks - 1) / chunks;
  const std::int64_t tasks = std::int64_t(heads) * chunks;
#pragma omp parallel
  {
    Score score(p);
    HeadBuffers<T> buf(p.D);
#pragma omp for schedule(dynamic)
    for (std::int64_t t = 0; t < tasks; ++t) {
      const int bh = int(t / chunks), c = int(t % chunks);
      const int i0 = c * rows_per_chunk, i1 = std::min(p.Nq, i0 + rows_per_chunk);
      if (i0 < i1) forward_rows(p, bh / p.H, bh % p.H, i0, i1, score, buf);
    }
  }
}

template <typename T, class Score>
void backward_impl(const AttentionBackwardParams<T>& bp) {
  const AttentionParams<T>& p = bp.fwd;
  const int heads = p.B * p.H;
  std::vector<T> dR_heads(std::size_t(heads) * p.D, T(0));
#pragma omp parallel
  {
    Score score(p);
    HeadBuffers<T> buf(p.D);
#pragma omp for schedule(dynamic)
    for (int bh = 0; bh < heads; ++bh)
      backward_head(bp, bh / p.H, bh % p.H, score, buf, dR_heads.data() + std::size_t(bh) * p.D);
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
    forward_impl<T, FourierScore<T>>(p);
  else
    forward_impl<T, DotScore<T>>(p);
}

template <typename T>
void attention_backward(Exec, const AttentionBackwardParams<T>& bp) {
  check_attention_backward_params(bp);
  if (bp.fwd.B == 0 || bp.fwd.H == 0) return;
  if (bp.fwd.score == AttentionScore::Fourier)
    backward_impl<T, FourierScore<T>>(bp);
  else
    backward_impl<T, DotScore<T>>(bp);
}

template void attention_forward<float>(Exec, const AttentionParams<float>&);
template void attention_forward<double>(Exec, const AttentionParams<double>&);
template void attention_backward<float>(Exec, const AttentionBackwardParams<float>&);
template void attention_backward<double>(Exec, const AttentionBackwardParams<double>&);

}  // namespace ff::kernels::cpu
