// FourierLearner attention (core/ops/flt_attention.h): the mask estimate against the closed-form
// Fourier transform of a Gaussian mixture as the frequencies grow, the attention against a direct
// O(N^2) computation of the masked estimate with the same draws (1-D and 2-D positions, causal
// and not), float64 gradient checks of q, k, v and the mixture's parameters, the positive
// features' kernel, the log-domain weights where a density underflows, the frequency draws.
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>
#include <vector>

#include "core/ops/ops.h"
#include "support/fit.h"
#include "support/gradcheck.h"

using namespace ff;
using testing::gradcheck;
using testing::random_tensor;
using Inputs = std::vector<Tensor>;

namespace {

// A mixture per head with unequal weights, means away from 0 and scales below the proposal's.
SpectralMixture test_mixture(int64_t H, int64_t K, int64_t d, uint64_t seed) {
  return {random_tensor({H, K}, seed, -1.0, 1.0), random_tensor({H, K, d}, seed + 1, -0.8, 0.8),
          random_tensor({H, K}, seed + 2, std::log(0.5), std::log(0.9))};
}

// f(r) = sum_k pi_k exp(-|r|^2 sigma_k^2 / 2) cos(mu_k . r) for head h, from the parameters.
double exact_mask(const SpectralMixture& g, int64_t h, const std::vector<double>& r) {
  const int64_t K = g.logits.size(1), d = g.means.size(2);
  const std::vector<double> logits = g.logits.to_vector<double>(), mu = g.means.to_vector<double>();
  const std::vector<double> ls = g.log_scales.to_vector<double>();
  double z = 0;
  for (int64_t k = 0; k < K; ++k) z += std::exp(logits[h * K + k]);
  double f = 0, r2 = 0;
  for (double x : r) r2 += x * x;
  for (int64_t k = 0; k < K; ++k) {
    double dot = 0;
    for (int64_t e = 0; e < d; ++e) dot += mu[(h * K + k) * d + e] * r[e];
    const double sigma = std::exp(ls[h * K + k]);
    f += std::exp(logits[h * K + k]) / z * std::exp(-r2 * sigma * sigma / 2) * std::cos(dot);
  }
  return f;
}

// c_l^2 = g(w_l) / (s p(w_l)) from the densities themselves (not the op's log domain): (H, s).
std::vector<double> direct_weights_squared(const SpectralMixture& g, const Tensor& freqs) {
  const int64_t H = g.logits.size(0), K = g.logits.size(1), d = g.means.size(2), s = freqs.size(0);
  const std::vector<double> logits = g.logits.to_vector<double>(), mu = g.means.to_vector<double>();
  const std::vector<double> ls = g.log_scales.to_vector<double>(), w = freqs.to_vector<double>();
  const double two_pi = 2 * std::numbers::pi;
  std::vector<double> out(H * s);
  for (int64_t h = 0; h < H; ++h) {
    double z = 0;
    for (int64_t k = 0; k < K; ++k) z += std::exp(logits[h * K + k]);
    for (int64_t l = 0; l < s; ++l) {
      double gw = 0, w2 = 0;
      for (int64_t e = 0; e < d; ++e) w2 += w[l * d + e] * w[l * d + e];
      for (int64_t k = 0; k < K; ++k) {
        const double sigma = std::exp(ls[h * K + k]);
        double q = 0;
        for (int64_t e = 0; e < d; ++e) q += std::pow(w[l * d + e] - mu[(h * K + k) * d + e], 2);
        gw += std::exp(logits[h * K + k]) / z * std::exp(-q / (2 * sigma * sigma)) /
              std::pow(two_pi * sigma * sigma, d / 2.0);
      }
      const double pw = std::exp(-w2 / 2) / std::pow(two_pi, d / 2.0);
      out[h * s + l] = gw / (double(s) * pw);
    }
  }
  return out;
}

struct Direct {
  std::vector<double> out, den;  // (B, H, Nq, D) and the kernel sums (B, H, Nq)
};

// out_i = sum_j M_ij A_ij v_j / safe(sum_j M_ij A_ij + eps), every term written out in double:
// A_ij = sum_l exp(x_i . W_l - |x_i|^2/2) exp(x_j . W_l - |x_j|^2/2) / m with x = q / D^(1/4),
// M_ij = sum_l c_l^2 cos(w_l . (pos_i - pos_j)).
Direct direct_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const FltAttentionInputs& in,
                        const LinearAttentionOptions& o) {
  const int64_t B = q_in.size(0), H = q_in.size(1), Nq = q_in.size(2), Nk = k_in.size(2), D = q_in.size(3);
  const int64_t m = in.feature_freqs.size(0), s = in.position_freqs.size(0), d = in.position_freqs.size(1);
  const std::vector<double> q = contiguous(q_in).to_vector<double>(), k = contiguous(k_in).to_vector<double>();
  const std::vector<double> v = contiguous(v_in).to_vector<double>(), W = in.feature_freqs.to_vector<double>();
  const std::vector<double> w = in.position_freqs.to_vector<double>();
  const std::vector<double> pq = in.q_positions.to_vector<double>(), pk = in.k_positions.to_vector<double>();
  const std::vector<double> c2 = direct_weights_squared(in.mixture, in.position_freqs);
  const double scale = std::pow(double(D), -0.25);
  auto feature = [&](const double* x, int64_t l) {
    double dot = 0, n2 = 0;
    for (int64_t e = 0; e < D; ++e) {
      dot += x[e] * scale * W[l * D + e];
      n2 += x[e] * scale * x[e] * scale;
    }
    return std::exp(dot - n2 / 2);
  };
  Direct r{std::vector<double>(B * H * Nq * D, 0.0), std::vector<double>(B * H * Nq, 0.0)};
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t bh = b * H + h;
      for (int64_t i = 0; i < Nq; ++i) {
        double den = o.eps;
        std::vector<double> num(D, 0.0);
        for (int64_t j = 0; j < Nk; ++j) {
          if (o.causal && j > i + (Nk - Nq)) continue;
          double A = 0;
          for (int64_t l = 0; l < m; ++l)
            A += feature(&q[(bh * Nq + i) * D], l) * feature(&k[(bh * Nk + j) * D], l) / m;
          double M = 0;
          for (int64_t l = 0; l < s; ++l) {
            double dot = 0;
            for (int64_t e = 0; e < d; ++e) dot += w[l * d + e] * (pq[i * d + e] - pk[j * d + e]);
            M += c2[h * s + l] * std::cos(dot);
          }
          den += M * A;
          for (int64_t e = 0; e < D; ++e) num[e] += M * A * v[(bh * Nk + j) * D + e];
        }
        const double safe = den >= 0 ? std::max(den, o.floor) : std::min(den, -o.floor);
        for (int64_t e = 0; e < D; ++e) r.out[(bh * Nq + i) * D + e] = num[e] / safe;
        r.den[bh * Nq + i] = den;
      }
    }
  }
  return r;
}

// Positions (N, d) in float64: 0..N-1 (d = 1), or the cls token at the centre of a grid x grid
// patch grid and the patches (d = 2, N = grid^2 + 1), as the models use them.
Tensor positions_1d(int64_t n) {
  std::vector<double> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = double(i);
  return Tensor::from_vector<double>(p, {n, 1});
}
Tensor positions_2d(int64_t grid) {
  std::vector<double> p{(grid - 1) / 2.0, (grid - 1) / 2.0};
  for (int64_t i = 0; i < grid * grid; ++i) {
    p.push_back(double(i / grid));
    p.push_back(double(i % grid));
  }
  return Tensor::from_vector<double>(p, {grid * grid + 1, 2});
}

double max_diff(const std::vector<double>& x, const std::vector<double>& y) {
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

}  // namespace

TEST_CASE("flt: the estimated mask converges to the Fourier transform of the Gaussian mixture", "[flt-op]") {
  for (int64_t d : {1, 2}) {
    const int64_t H = 2, K = 3;
    const SpectralMixture g = test_mixture(H, K, d, 70 + d);
    // Offsets r: 0..11 in 1-D; the 7x7 grid of offsets in -3..3 in 2-D.
    std::vector<std::vector<double>> offsets;
    if (d == 1)
      for (int r = 0; r < 12; ++r) offsets.push_back({double(r)});
    else
      for (int a = -3; a <= 3; ++a)
        for (int b = -3; b <= 3; ++b) offsets.push_back({double(a), double(b)});
    std::vector<double> flat;
    for (const auto& r : offsets) flat.insert(flat.end(), r.begin(), r.end());
    const Tensor pos = Tensor::from_vector<double>(flat, {int64_t(offsets.size()), d});
    const Tensor origin = Tensor::zeros({1, d}, DType::F64);
    std::vector<double> sizes, errors;
    for (int64_t s : {64, 256, 1024, 4096, 16384}) {
      double err = 0, bound = 0;
      const int draws = 8;
      for (int draw = 0; draw < draws; ++draw) {
        // Independent draws for every s (a fill's first elements do not depend on its length).
        const Tensor w = gaussian_frequencies(s, d, {200 + uint64_t(d), uint64_t(s * draws + draw)}, DType::F64);
        const Tensor c = spectral_mixture_weights(g, w);
        // The estimate's standard error at any r is at most sqrt(E_p[(g/p)^2] / s); the second
        // moment estimated from the same draws (g/p = s c^2).
        double second = 0;
        for (double cl : c.to_vector<double>()) second += std::pow(double(s) * cl * cl, 2) / double(H * s);
        bound += std::sqrt(second / double(s)) / draws;
        // M(r) = P(r) . P(0): (H, R, 2s) x (H, 2s, 1).
        const Tensor mask =
            matmul(spectral_position_features(pos, w, c), transpose(spectral_position_features(origin, w, c), 1, 2));
        const std::vector<double> est = mask.to_vector<double>();
        double sq = 0;
        for (int64_t h = 0; h < H; ++h)
          for (size_t r = 0; r < offsets.size(); ++r)
            sq += std::pow(est[h * offsets.size() + r] - exact_mask(g, h, offsets[r]), 2);
        err += std::sqrt(sq / double(H * offsets.size())) / draws;
      }
      std::printf("flt mask d=%ld s=%ld: rms error %.5f, standard error bound %.5f\n", long(d), long(s), err, bound);
      INFO("d " << d << " s " << s << " error " << err << " bound " << bound);
      CHECK(err < 1.5 * bound);
      sizes.push_back(double(s));
      errors.push_back(err);
    }
    const double slope = testing::log_log_slope(sizes, errors);
    std::printf("flt mask d=%ld: slope %.3f\n", long(d), slope);
    INFO("d " << d << " slope " << slope << " error at s=16384 " << errors.back());
    CHECK(slope == Approx(-0.5).margin(0.1));  // a Monte Carlo estimate
    CHECK(errors.back() < 0.015);
  }
}

TEST_CASE("flt: the mask weights are sqrt(g / (s p)) of the mixture's density", "[flt-op]") {
  for (int64_t d : {1, 2}) {
    const SpectralMixture g = test_mixture(3, 4, d, 80 + d);
    const Tensor w = gaussian_frequencies(50, d, {9, 1}, DType::F64);
    const std::vector<double> c = spectral_mixture_weights(g, w).to_vector<double>();
    const std::vector<double> c2 = direct_weights_squared(g, w);
    REQUIRE(c.size() == c2.size());
    for (size_t i = 0; i < c.size(); ++i) CHECK(c[i] * c[i] == Approx(c2[i]).epsilon(1e-12));
  }
}

TEST_CASE("flt: attention equals the direct O(N^2) masked estimate with the same draws", "[flt-op]") {
  struct Case {
    int64_t d, Nq, Nk;  // d = 2: Nk = grid^2 + 1 positions
    bool causal;
  };
  for (Case c : {Case{1, 9, 9, true}, Case{1, 6, 10, true}, Case{1, 9, 9, false}, Case{2, 10, 10, false},
                 Case{2, 10, 10, true}}) {
    INFO("d " << c.d << " Nq " << c.Nq << " Nk " << c.Nk << " causal " << c.causal);
    const int64_t B = 2, H = 2, D = 4;
    Tensor q = random_tensor({B, H, c.Nq, D}, 90, -0.8, 0.8), k = random_tensor({B, H, c.Nk, D}, 91, -0.8, 0.8);
    Tensor v = random_tensor({B, H, c.Nk, D}, 92);
    const Tensor pk = c.d == 1 ? positions_1d(c.Nk) : positions_2d(3);
    FltAttentionInputs in{.feature_freqs = gaussian_frequencies(5, D, {11, 0}, DType::F64),
                          .position_freqs = gaussian_frequencies(6, c.d, {11, 1}, DType::F64),
                          .q_positions = narrow(pk, 0, c.Nk - c.Nq, c.Nq),
                          .k_positions = pk,
                          .mixture = test_mixture(H, 3, c.d, 95)};
    LinearAttentionOptions o;
    o.causal = c.causal;
    const Tensor out = flt_attention(q, k, v, in, o);
    REQUIRE(out.shape() == Shape{B, H, c.Nq, D});
    const Direct ref = direct_attention(q, k, v, in, o);
    double largest = 0;
    for (double x : ref.out) largest = std::max(largest, std::fabs(x));
    CHECK(max_diff(out.to_vector<double>(), ref.out) < 1e-12 * std::max(1.0, largest));
  }
}

TEST_CASE("flt: float64 gradients for q, k, v and the mixture's logits, means and log-scales", "[flt-op][gradcheck]") {
  for (int64_t d : {1, 2}) {
    for (bool causal : {true, false}) {
      INFO("d " << d << " causal " << causal);
      const int64_t H = 2, D = 4, N = d == 1 ? 6 : 5;  // 2-D: a 2x2 grid and the cls token
      Tensor q = random_tensor({1, H, N, D}, 100, -0.6, 0.6), k = random_tensor({1, H, N, D}, 101, -0.6, 0.6);
      Tensor v = random_tensor({1, H, N, D}, 102);
      const SpectralMixture g = test_mixture(H, 2, d, 103);
      const Tensor pos = d == 1 ? positions_1d(N) : positions_2d(2);
      FltAttentionInputs in{.feature_freqs = gaussian_frequencies(3, D, {12, 0}, DType::F64),
                            .position_freqs = gaussian_frequencies(4, d, {12, 1}, DType::F64),
                            .q_positions = pos,
                            .k_positions = pos,
                            .mixture = g};
      LinearAttentionOptions o;
      o.causal = causal;
      o.floor = 1e-3;
      // Every kernel sum away from the floor, where the normaliser has a kink.
      for (double den : direct_attention(q, k, v, in, o).den) REQUIRE(std::fabs(den) > 2e-2);
      CHECK(gradcheck(
                [o, in](const Inputs& x) {
                  FltAttentionInputs with = in;
                  with.mixture = {x[3], x[4], x[5]};
                  return flt_attention(x[0], x[1], x[2], with, o);
                },
                {q, k, v, g.logits, g.means, g.log_scales}) == "");
    }
  }
}

TEST_CASE("flt: the mask weights stay finite where a Gaussian's density underflows", "[flt-op]") {
  // sigma = 1e-3 and frequencies near 3: exp(-|w - mu|^2 / (2 sigma^2)) is 0 in double, the log
  // domain keeps c finite and the gradients defined (a sqrt of 0 would have an infinite slope).
  SpectralMixture g{Tensor::from_vector<double>({0.0, 0.0}, {1, 2}), Tensor::from_vector<double>({0.0, 0.5}, {1, 2, 1}),
                    Tensor::from_vector<double>({std::log(1e-3), std::log(0.7)}, {1, 2})};
  for (Tensor* t : {&g.logits, &g.means, &g.log_scales}) t->set_requires_grad(true);
  const Tensor w = Tensor::from_vector<double>({3.0, -2.9, 3.1}, {3, 1});
  const Tensor c = spectral_mixture_weights(g, w);
  const std::vector<double> cv = c.to_vector<double>(), c2 = direct_weights_squared(g, w);
  for (size_t i = 0; i < cv.size(); ++i) CHECK(cv[i] * cv[i] == Approx(c2[i]).epsilon(1e-12));
  sum(c).backward();
  for (Tensor* t : {&g.logits, &g.means, &g.log_scales})
    for (double x : t->grad().to_vector<double>()) REQUIRE(std::isfinite(x));
  // The underflowing component contributes nothing: its log-scale's gradient is 0.
  CHECK(g.log_scales.grad().to_vector<double>()[0] == 0.0);
  CHECK(gradcheck(
            [w](const Inputs& x) {
              return spectral_mixture_weights({x[0], x[1], x[2]}, w);
            },
            {g.logits.detach(), g.means.detach(), g.log_scales.detach()}) == "");
}

TEST_CASE("flt: positive random features estimate exp(x . y) and have float64 gradients", "[flt-op][gradcheck]") {
  const Tensor x = random_tensor({3, 6}, 110, -0.3, 0.3), y = random_tensor({4, 6}, 111, -0.3, 0.3);
  const Tensor W = gaussian_frequencies(20000, 6, {13, 0}, DType::F64);
  const Tensor phi_x = positive_random_features(x, W), phi_y = positive_random_features(y, W);
  for (double e : phi_x.to_vector<double>()) REQUIRE(e > 0);
  const std::vector<double> est = matmul(phi_x, transpose(phi_y, 0, 1)).to_vector<double>();
  const std::vector<double> exact = exp(matmul(x, transpose(y, 0, 1))).to_vector<double>();
  // One feature's relative variance is exp(|x + y|^2) - 1: about 0.4 here (|x + y|^2 near 6 * 0.06),
  // at most 7.7 (every entry at +-0.6), so 20000 features err by 0.5% typically and 2% at worst.
  for (size_t i = 0; i < est.size(); ++i) CHECK(est[i] == Approx(exact[i]).epsilon(0.03));
  const Tensor W_small = gaussian_frequencies(5, 6, {13, 1}, DType::F64);
  CHECK(gradcheck([W_small](const Inputs& in) { return positive_random_features(in[0], W_small); }, {x}) == "");
}

TEST_CASE("flt: Gaussian frequencies are deterministic N(0, 1) draws", "[flt-op]") {
  const Tensor w = gaussian_frequencies(8192, 4, {21, 3}, DType::F64);
  CHECK(testing::max_abs_diff(w, gaussian_frequencies(8192, 4, {21, 3}, DType::F64)) == 0.0);
  CHECK(testing::max_abs_diff(w, gaussian_frequencies(8192, 4, {21, 4}, DType::F64)) > 1.0);
  const std::vector<double> x = w.to_vector<double>();
  double mean = 0, var = 0;
  for (double e : x) mean += e / x.size();
  for (double e : x) var += (e - mean) * (e - mean) / (x.size() - 1);
  // 32768 draws: standard error of the mean 0.0055, of the variance 0.008.
  CHECK(std::fabs(mean) < 0.025);
  CHECK(var == Approx(1.0).margin(0.035));
}
