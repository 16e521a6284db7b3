#pragma once
// Test support for the attention kernels: random problems, host buffers in float or double,
// and a naive float64 oracle computed the way the paper writes it (linear-domain product of
// sinc^p, masked weights 0, divided by (sum + eps)), with its analytic gradients.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/attention.h"

namespace ff::test::attention {

using kernels::AttentionBackwardParams;
using kernels::AttentionParams;
using kernels::AttentionScore;
using kernels::AttentionStrides;

struct Options {
  int B = 2, H = 2, Nq = 9, Nk = 9, D = 5;
  bool causal = false;
  AttentionScore score = AttentionScore::Fourier;
  bool R_per_dim = false;
  int p = 4;
  double eps = 1e-6;
  bool bnhd = false;  // q, k, v, out, dout, dq, dk, dv as (B, N, H, D) instead of (B, H, N, D)
};

// Inputs in float64; k and v have Nk tokens, the rest Nq.
struct Problem {
  Options opt;
  std::vector<double> q, k, v, R, dout;
  double scale = 0;

  AttentionStrides strides(int N) const {
    return opt.bnhd ? kernels::bnhd_strides(opt.H, N, opt.D) : kernels::bhnd_strides(opt.H, N, opt.D);
  }
  std::int64_t index(int N, int b, int h, int n, int d) const {
    const AttentionStrides s = strides(N);
    return b * s.batch + h * s.head + n * s.token + d;
  }
  std::size_t size(int N) const { return std::size_t(opt.B) * opt.H * N * opt.D; }
};

// q, k entries N(0, qk_std); v, dout N(0, 1); R = R_value (per dim: R_value * U(0.75, 1.25)).
inline Problem make_problem(const Options& opt, std::uint64_t seed, double qk_std = 0.25,
                            double R_value = 2.0) {
  Problem pr;
  pr.opt = opt;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  auto fill = [&](std::vector<double>& x, std::size_t n, double sd) {
    x.resize(n);
    for (auto& e : x) e = sd * normal(rng);
  };
  fill(pr.q, pr.size(opt.Nq), qk_std);
  fill(pr.k, pr.size(opt.Nk), qk_std);
  fill(pr.v, pr.size(opt.Nk), 1.0);
  fill(pr.dout, pr.size(opt.Nq), 1.0);
  std::uniform_real_distribution<double> uni(0.75, 1.25);
  pr.R.resize(opt.R_per_dim ? opt.D : 1);
  for (auto& r : pr.R) r = opt.R_per_dim ? R_value * uni(rng) : R_value;
  pr.scale = 1.0 / std::sqrt(double(opt.D));
  return pr;
}

// The kernels' inputs and outputs in T, on the host.
template <typename T>
struct HostRun {
  std::vector<T> q, k, v, R, dout;
  std::vector<T> out, lse, probs, dq, dk, dv, dR;

  explicit HostRun(const Problem& pr) {
    auto conv = [](const std::vector<double>& x) { return std::vector<T>(x.begin(), x.end()); };
    q = conv(pr.q);
    k = conv(pr.k);
    v = conv(pr.v);
    R = conv(pr.R);
    dout = conv(pr.dout);
    const auto& o = pr.opt;
    out.assign(pr.size(o.Nq), T(0));
    lse.assign(std::size_t(o.B) * o.H * o.Nq, T(0));
    probs.assign(std::size_t(o.B) * o.H * o.Nq * o.Nk, T(-1));
    dq.assign(pr.size(o.Nq), T(7));  // garbage: the kernels must write every element
    dk.assign(pr.size(o.Nk), T(7));
    dv.assign(pr.size(o.Nk), T(7));
    dR.assign(R.size(), T(0));
  }

  AttentionParams<T> forward_params(const Problem& pr, bool with_probs) {
    const auto& o = pr.opt;
    AttentionParams<T> p;
    p.q = q.data();
    p.k = k.data();
    p.v = v.data();
    p.out = out.data();
    p.lse = lse.data();
    p.probs = with_probs ? probs.data() : nullptr;
    p.B = o.B;
    p.H = o.H;
    p.Nq = o.Nq;
    p.Nk = o.Nk;
    p.D = o.D;
    p.q_strides = pr.strides(o.Nq);
    p.k_strides = pr.strides(o.Nk);
    p.v_strides = pr.strides(o.Nk);
    p.out_strides = pr.strides(o.Nq);
    p.causal = o.causal;
    p.score = o.score;
    p.scale = T(pr.scale);
    p.R = R.data();
    p.R_per_dim = o.R_per_dim;
    p.p = o.p;
    p.eps = T(o.eps);
    return p;
  }

  AttentionBackwardParams<T> backward_params(const Problem& pr) {
    AttentionBackwardParams<T> bp;
    bp.fwd = forward_params(pr, false);
    bp.dout = dout.data();
    bp.dq = dq.data();
    bp.dk = dk.data();
    bp.dv = dv.data();
    bp.dout_strides = pr.strides(pr.opt.Nq);
    bp.dq_strides = pr.strides(pr.opt.Nq);
    bp.dk_strides = pr.strides(pr.opt.Nk);
    bp.dv_strides = pr.strides(pr.opt.Nk);
    bp.dR = dR.data();
    return bp;
  }
};

struct OracleResult {
  std::vector<double> out, probs;            // probs (B, H, Nq, Nk) contiguous
  std::vector<double> dq, dk, dv, dR;        // gradients of L = sum(dout * out)
};

inline double sinc(double x) { return x == 0.0 ? 1.0 : std::sin(x) / x; }
// d sinc / dx.
inline double sinc_prime(double x) {
  if (std::fabs(x) < 1e-4) return -x / 3.0 + x * x * x / 30.0;
  return (x * std::cos(x) - std::sin(x)) / (x * x);
}

// Naive float64 attention straight from the formulas, O(Nq Nk D^2) per head.
inline OracleResult oracle(const Problem& pr, bool with_grads = true) {
  const auto& o = pr.opt;
  OracleResult r;
  r.out.assign(pr.size(o.Nq), 0.0);
  r.probs.assign(std::size_t(o.B) * o.H * o.Nq * o.Nk, 0.0);
  r.dq.assign(pr.size(o.Nq), 0.0);
  r.dk.assign(pr.size(o.Nk), 0.0);
  r.dv.assign(pr.size(o.Nk), 0.0);
  r.dR.assign(pr.R.size(), 0.0);
  const bool fourier = o.score == AttentionScore::Fourier;
  auto Rd = [&](int d) { return o.R_per_dim ? pr.R[d] : pr.R[0]; };
  std::vector<double> w(o.Nk), dw(o.Nk);
  for (int b = 0; b < o.B; ++b)
    for (int h = 0; h < o.H; ++h)
      for (int i = 0; i < o.Nq; ++i) {
        const int limit = o.causal ? std::clamp(i + o.Nk - o.Nq + 1, 0, o.Nk) : o.Nk;
        auto q = [&](int d) { return pr.q[pr.index(o.Nq, b, h, i, d)]; };
        auto k = [&](int j, int d) { return pr.k[pr.index(o.Nk, b, h, j, d)]; };
        auto v = [&](int j, int d) { return pr.v[pr.index(o.Nk, b, h, j, d)]; };
        auto g = [&](int d) { return pr.dout[pr.index(o.Nq, b, h, i, d)]; };
        // Unnormalised weights.
        double smax = -INFINITY;
        for (int j = 0; j < limit; ++j) {
          if (fourier) {
            double prod = 1.0;
            for (int d = 0; d < o.D; ++d) prod *= std::pow(sinc(Rd(d) * (q(d) - k(j, d))), o.p);
            w[j] = prod;
          } else {
            double s = 0;
            for (int d = 0; d < o.D; ++d) s += q(d) * k(j, d);
            w[j] = s * pr.scale;
            smax = std::max(smax, w[j]);
          }
        }
        if (!fourier)
          for (int j = 0; j < limit; ++j) w[j] = std::exp(w[j] - smax);
        double Z = fourier ? o.eps : 0.0;
        for (int j = 0; j < limit; ++j) Z += w[j];
        if (limit == 0 || Z == 0.0) continue;  // no key: out 0, gradients 0
        std::vector<double> out(o.D, 0.0);
        for (int j = 0; j < limit; ++j) {
          r.probs[((std::size_t(b) * o.H + h) * o.Nq + i) * o.Nk + j] = w[j] / Z;
          for (int d = 0; d < o.D; ++d) out[d] += w[j] / Z * v(j, d);
        }
        for (int d = 0; d < o.D; ++d) r.out[pr.index(o.Nq, b, h, i, d)] = out[d];
        if (!with_grads) continue;
        // L = sum_d g_d out_d.  dL/dw_j = (g . v_j - g . out) / Z  (Fourier: w are the K_ij).
        double g_out = 0;
        for (int d = 0; d < o.D; ++d) g_out += g(d) * out[d];
        for (int j = 0; j < limit; ++j) {
          double g_v = 0;
          for (int d = 0; d < o.D; ++d) {
            g_v += g(d) * v(j, d);
            r.dv[pr.index(o.Nk, b, h, j, d)] += w[j] / Z * g(d);
          }
          dw[j] = (g_v - g_out) / Z;
        }
        for (int j = 0; j < limit; ++j) {
          for (int d = 0; d < o.D; ++d) {
            double dx;  // dL/d(the d-th argument): Fourier x_d = R_d (q_d - k_d); dot q_d k_d
            if (fourier) {
              // dK/dx_d = prod_{e != d} sinc(x_e)^p * p sinc(x_d)^(p-1) sinc'(x_d)
              double other = 1.0;
              for (int e = 0; e < o.D; ++e)
                if (e != d) other *= std::pow(sinc(Rd(e) * (q(e) - k(j, e))), o.p);
              const double x = Rd(d) * (q(d) - k(j, d));
              dx = dw[j] * other * o.p * std::pow(sinc(x), o.p - 1) * sinc_prime(x);
              r.dq[pr.index(o.Nq, b, h, i, d)] += dx * Rd(d);
              r.dk[pr.index(o.Nk, b, h, j, d)] -= dx * Rd(d);
              r.dR[o.R_per_dim ? d : 0] += dx * (q(d) - k(j, d));
            } else {
              // softmax weights w_j / Z: dL/ds_j = w_j dL/dw_j for the exp'd scores
              dx = w[j] * dw[j] * pr.scale;
              r.dq[pr.index(o.Nq, b, h, i, d)] += dx * k(j, d);
              r.dk[pr.index(o.Nk, b, h, j, d)] += dx * q(d);
            }
          }
        }
      }
  return r;
}

// max |a - b| over max(|b|, floor): a norm-wise relative error.
template <typename T>
double rel_error(const std::vector<T>& a, const std::vector<double>& b, double floor = 1e-30) {
  double num = 0, den = floor;
  for (std::size_t i = 0; i < b.size(); ++i) {
    num = std::max(num, std::fabs(double(a[i]) - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return num / den;
}

template <typename T>
bool all_finite(const std::vector<T>& a) {
  return std::all_of(a.begin(), a.end(), [](T x) { return std::isfinite(double(x)); });
}

}  // namespace ff::test::attention
