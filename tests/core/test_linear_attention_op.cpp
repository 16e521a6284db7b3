// Random-feature attention (core/ops/linear_attention.h): values against a materialised
// reference, float64 gradient checks (features, linear attention, and q, k, v, R through the
// frequencies, for fourier_rf and rfa), the normaliser on negative estimates, the 1/sqrt(m)
// convergence to the exact Fourier attention and (rfa) to the exact softmax, the frequency
// draws, and CUDA against CPU.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <vector>

#include "core/ops/ops.h"
#include "support/device_parity.h"
#include "support/fit.h"
#include "support/gradcheck.h"
#include "support/skip.h"

using namespace ff;
using testing::gradcheck;
using testing::random_tensor;
using Inputs = std::vector<Tensor>;

namespace {

// The op's math with the (Nq, Nk) matrix written out, on the host, in double.
std::vector<double> reference(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, const LinearAttentionOptions& o) {
  const int64_t BH = phi_q.size(0) * phi_q.size(1), Nq = phi_q.size(2), Nk = phi_k.size(2), F = phi_q.size(3);
  const int64_t D = v.size(3);
  const std::vector<double> a = contiguous(phi_q).to_vector<double>(), b = contiguous(phi_k).to_vector<double>();
  const std::vector<double> c = contiguous(v).to_vector<double>();
  std::vector<double> out(BH * Nq * D, 0.0);
  for (int64_t h = 0; h < BH; ++h) {
    for (int64_t i = 0; i < Nq; ++i) {
      double den = o.eps;
      std::vector<double> num(D, 0.0);
      for (int64_t j = 0; j < Nk; ++j) {
        if (o.causal && j > i + (Nk - Nq)) continue;
        double w = 0;
        for (int64_t f = 0; f < F; ++f) w += a[(h * Nq + i) * F + f] * b[(h * Nk + j) * F + f];
        den += w;
        for (int64_t d = 0; d < D; ++d) num[d] += w * c[(h * Nk + j) * D + d];
      }
      const double safe = den >= 0 ? std::max(den, o.floor) : std::min(den, -o.floor);
      for (int64_t d = 0; d < D; ++d) out[(h * Nq + i) * D + d] = num[d] / safe;
    }
  }
  return out;
}

double max_diff(const std::vector<double>& x, const std::vector<double>& y) {
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

Tensor bnhd(const Tensor& x) { return permute(x, {0, 2, 1, 3}); }

// The relative error of estimate(m, draw) against exact at m = 64, 256, 1024, 4096, averaged over
// 6 draws each, must fall like a Monte Carlo estimate's: the least-squares slope of log(error)
// against log(m) is -1/2, m = 4096 against m = 64 gives 1/8, and the last is small.
void check_monte_carlo_rate(const char* label, const Tensor& exact,
                            const std::function<Tensor(int64_t m, uint64_t draw)>& estimate) {
  const double exact_norm = std::sqrt(sum(square(exact)).item());
  std::vector<double> ms, errs;
  for (int64_t m : {64, 256, 1024, 4096}) {
    double err = 0;
    const int draws = 6;
    for (int s = 0; s < draws; ++s) err += std::sqrt(sum(square(sub(estimate(m, s), exact))).item()) / exact_norm / draws;
    std::printf("%s m=%ld: relative error %.5f\n", label, long(m), err);
    ms.push_back(double(m));
    errs.push_back(err);
  }
  const double slope = testing::log_log_slope(ms, errs);
  INFO(label << ": slope " << slope);
  CHECK(slope == Approx(-0.5).margin(0.1));
  const double ratio = errs.back() / errs.front();
  INFO("ratio " << ratio);
  CHECK(ratio > 0.125 / 1.6);
  CHECK(ratio < 0.125 * 1.6);
  CHECK(errs.back() < 0.05);
}

}  // namespace

TEST_CASE("fourier features: values and float64 gradients", "[linear-attention-op][gradcheck]") {
  Tensor theta = random_tensor({3, 5, 7}, 11, -4.0, 4.0);
  Tensor phi = fourier_features(theta);
  REQUIRE(phi.shape() == Shape{3, 5, 14});
  const std::vector<double> t = theta.to_vector<double>(), p = phi.to_vector<double>();
  for (int64_t r = 0; r < 15; ++r) {
    for (int64_t l = 0; l < 7; ++l) {
      CHECK(p[r * 14 + l] == Approx(std::cos(t[r * 7 + l]) / std::sqrt(7.0)).margin(1e-15));
      CHECK(p[r * 14 + 7 + l] == Approx(std::sin(t[r * 7 + l]) / std::sqrt(7.0)).margin(1e-15));
    }
  }
  CHECK(gradcheck([](const Inputs& x) { return fourier_features(x[0]); }, {theta}) == "");
  // Non-contiguous input.
  CHECK(gradcheck([](const Inputs& x) { return fourier_features(transpose(x[0], 0, 2)); }, {theta}) == "");
}

TEST_CASE("fourier features: float matches double", "[linear-attention-op]") {
  Tensor theta = random_tensor({64, 33}, 12, -20.0, 20.0);
  Tensor f32 = fourier_features(to_dtype(theta, DType::F32));
  CHECK(testing::max_abs_diff(to_dtype(f32, DType::F64), fourier_features(theta)) < 1e-6);
}

TEST_CASE("linear attention: values match the materialised reference", "[linear-attention-op]") {
  // 150 and 200 tokens cross the kernels' key chunks (16 on the CPU, 64 on CUDA); Nk > Nq is segment memory, Nk < Nq
  // leaves the first queries without keys.
  struct Case {
    int64_t Nq, Nk;
    bool causal;
  };
  for (Case c : {Case{150, 150, true}, Case{150, 200, true}, Case{150, 100, true}, Case{150, 200, false},
                 Case{1, 1, true}, Case{70, 3, false}}) {
    INFO("Nq " << c.Nq << " Nk " << c.Nk << " causal " << c.causal);
    Tensor phi_q = random_tensor({2, 3, c.Nq, 6}, 20, 0.0, 1.0), phi_k = random_tensor({2, 3, c.Nk, 6}, 21, 0.0, 1.0);
    Tensor v = random_tensor({2, 3, c.Nk, 5}, 22);
    LinearAttentionOptions o;
    o.causal = c.causal;
    Tensor out = linear_attention(phi_q, phi_k, v, o);
    REQUIRE(out.shape() == Shape{2, 3, c.Nq, 5});
    CHECK(max_diff(out.to_vector<double>(), reference(phi_q, phi_k, v, o)) < 1e-12);
    // float: the same within float rounding.
    Tensor out32 = linear_attention(to_dtype(phi_q, DType::F32), to_dtype(phi_k, DType::F32), to_dtype(v, DType::F32), o);
    CHECK(max_diff(to_dtype(out32, DType::F64).to_vector<double>(), reference(phi_q, phi_k, v, o)) < 2e-5);
  }
}

TEST_CASE("linear attention: float64 gradients for phi_q, phi_k and v", "[linear-attention-op][gradcheck]") {
  struct Case {
    int64_t Nq, Nk;
    bool causal;
    double lo;  // features in [lo, 1): lo >= 0 gives positive kernel sums, lo = -1 mixed signs
    double floor;
  };
  // Nq = 70 crosses a chunk boundary; floor = 100 replaces every denominator (no gradient
  // through the kernel sum); with lo = -1 some sums are negative.
  for (Case c : {Case{5, 5, true, 0.1, 1e-3}, Case{4, 7, true, 0.1, 1e-3}, Case{6, 3, true, 0.1, 1e-3},
                 Case{5, 6, false, 0.1, 1e-3}, Case{70, 70, true, 0.1, 1e-3}, Case{5, 5, true, 0.1, 100.0},
                 Case{6, 6, false, -1.0, 1e-3}}) {
    INFO("Nq " << c.Nq << " Nk " << c.Nk << " causal " << c.causal << " lo " << c.lo << " floor " << c.floor);
    Tensor phi_q = random_tensor({1, c.Nq, 2, 3}, 30, c.lo, 1.0), phi_k = random_tensor({1, c.Nk, 2, 3}, 31, c.lo, 1.0);
    Tensor v = random_tensor({1, c.Nk, 2, 4}, 32);
    LinearAttentionOptions o;
    o.causal = c.causal;
    o.floor = c.floor;
    if (c.lo < 0) {
      // Keep every |kernel sum| away from the floor, where the normaliser has a kink.
      Tensor den = sum(matmul(bnhd(phi_q), transpose(bnhd(phi_k), 2, 3)), {3});
      for (double d : den.to_vector<double>()) REQUIRE(std::fabs(d) > 1e-2);
    }
    CHECK(gradcheck([o](const Inputs& x) { return linear_attention(bnhd(x[0]), bnhd(x[1]), bnhd(x[2]), o); },
                    {phi_q, phi_k, v}) == "");
  }
}

TEST_CASE("linear attention: negative and near-zero kernel estimates stay finite", "[linear-attention-op]") {
  // One visible key: out = (a . b) v / safe(a . b + eps); with a . b < 0 the sign is kept, so
  // out = v exactly (the ratio of two estimates with the same error).
  Tensor phi_q = Tensor::from_vector<double>({0.6, -0.8}, {1, 1, 1, 2});
  Tensor phi_k = Tensor::from_vector<double>({-0.5, 0.5}, {1, 1, 1, 2});  // a . b = -0.7
  Tensor v = Tensor::from_vector<double>({2.0, -3.0}, {1, 1, 1, 2});
  LinearAttentionOptions o;
  o.causal = true;
  o.eps = 0;
  o.floor = 1e-3;
  CHECK(max_diff(linear_attention(phi_q, phi_k, v, o).to_vector<double>(), {2.0, -3.0}) < 1e-15);
  // a . b = 1e-9 and -1e-9: below the floor, the denominator is +-floor.
  for (double sign : {1.0, -1.0}) {
    Tensor k_tiny = Tensor::from_vector<double>({sign * 1e-9, 0.0}, {1, 1, 1, 2});
    Tensor q_one = Tensor::from_vector<double>({1.0, 0.0}, {1, 1, 1, 2});
    CHECK(max_diff(linear_attention(q_one, k_tiny, v, o).to_vector<double>(), {2e-6, -3e-6}) < 1e-18);
  }
  // Random-feature attention with 2 frequencies at a large R: many kernel sums are estimated
  // negative; outputs and all gradients stay finite and bounded by sum_j |a_ij| |v_j| / floor.
  Tensor q = random_tensor({2, 3, 40, 8}, 40), k = random_tensor({2, 3, 40, 8}, 41), vv = random_tensor({2, 3, 40, 8}, 42);
  Tensor R = Tensor::full({1}, 6.0, DType::F64);
  for (Tensor* t : {&q, &k, &vv, &R}) t->set_requires_grad(true);
  Tensor freqs = sinc_frequencies(2, 8, 4, {7, 0}, DType::F64);
  LinearAttentionOptions rf;
  rf.causal = true;
  Tensor out = fourier_rf_attention(q, k, vv, freqs, R, rf);
  {
    NoGradGuard no_grad;
    Tensor w = transpose(mul(freqs, R), 0, 1);
    Tensor a = matmul(fourier_features(matmul(q, w)), transpose(fourier_features(matmul(k, w)), 2, 3));
    const std::vector<double> av = a.to_vector<double>();
    int negative = 0;
    for (int64_t row = 0; row < 2 * 3 * 40; ++row) {
      double den = 0;
      for (int64_t j = 0; j <= row % 40; ++j) den += av[row * 40 + j];
      negative += den + rf.eps < 0;
    }
    INFO("rows with a negative estimate: " << negative);
    CHECK(negative >= 40);
  }
  for (double x : out.to_vector<double>()) REQUIRE(std::isfinite(x));
  for (double x : out.to_vector<double>()) CHECK(std::fabs(x) <= 40.0 / rf.floor);
  sum(mul(out, random_tensor(out.shape(), 43))).backward();
  for (Tensor* t : {&q, &k, &vv, &R})
    for (double x : t->grad().to_vector<double>()) REQUIRE(std::isfinite(x));
}

TEST_CASE("Fourier random-feature attention: float64 gradients for q, k, v and R", "[linear-attention-op][gradcheck]") {
  for (bool per_dim : {false, true}) {
    for (bool causal : {false, true}) {
      INFO("per_dim " << per_dim << " causal " << causal);
      // The realistic scale of the exact op's test: entries within 0.45, R near 2.
      Tensor q = random_tensor({1, 3, 2, 4}, 50, -0.45, 0.45), k = random_tensor({1, 5, 2, 4}, 51, -0.45, 0.45);
      Tensor v = random_tensor({1, 5, 2, 4}, 52);
      Tensor R = per_dim ? random_tensor({4}, 53, 1.5, 2.5) : Tensor::full({1}, 2.0, DType::F64);
      Tensor freqs = sinc_frequencies(16, 4, 4, {3, 1}, DType::F64);
      LinearAttentionOptions o;
      o.causal = causal;
      CHECK(gradcheck(
                [o, freqs](const Inputs& x) { return fourier_rf_attention(bnhd(x[0]), bnhd(x[1]), bnhd(x[2]), freqs, x[3], o); },
                {q, k, v, R}) == "");
    }
  }
}

TEST_CASE("Fourier random-feature attention: error against the exact kernel falls like 1/sqrt(m)",
          "[linear-attention-op]") {
  // Fixed inputs where the kernel weights are around 0.4 (entries within 0.5, R = 1, 8 dims), so
  // the kernel sums are far from 0 and the ratio num / den is in its 1/sqrt(m) regime from
  // m = 64 on (at R = 1.5 a draw with m = 64 can bring a sum near 0: error 4 instead of 0.2).
  // Relative error of the output, averaged over 6 frequency draws per m.
  Tensor q = random_tensor({1, 2, 32, 8}, 60, -0.5, 0.5), k = random_tensor({1, 2, 32, 8}, 61, -0.5, 0.5);
  Tensor v = random_tensor({1, 2, 32, 8}, 62);
  Tensor R = Tensor::full({1}, 1.0, DType::F64);
  for (bool causal : {false, true}) {
    AttentionOptions exact_options;
    exact_options.score = kernels::AttentionScore::Fourier;
    exact_options.causal = causal;
    exact_options.R = R;
    const Tensor exact = attention(q, k, v, exact_options);
    LinearAttentionOptions o;
    o.causal = causal;
    check_monte_carlo_rate(causal ? "fourier_rf causal" : "fourier_rf full", exact, [&](int64_t m, uint64_t draw) {
      return fourier_rf_attention(q, k, v, sinc_frequencies(m, 8, 4, {100, draw}, DType::F64), R, o);
    });
  }
}

TEST_CASE("sinc frequencies: deterministic draws with the moments of a sum of p uniforms", "[linear-attention-op]") {
  const Tensor z = sinc_frequencies(4096, 16, 4, {5, 9}, DType::F64);
  REQUIRE(z.shape() == Shape{4096, 16});
  CHECK(testing::max_abs_diff(z, sinc_frequencies(4096, 16, 4, {5, 9}, DType::F64)) == 0.0);
  CHECK(testing::max_abs_diff(z, sinc_frequencies(4096, 16, 4, {5, 10}, DType::F64)) > 1.0);
  const std::vector<double> x = z.to_vector<double>();
  double mean = 0, var = 0, largest = 0;
  for (double e : x) {
    mean += e / x.size();
    largest = std::max(largest, std::fabs(e));
  }
  for (double e : x) var += (e - mean) * (e - mean) / (x.size() - 1);
  // Var = p / 3 = 4/3; 65536 draws: standard error of the mean 0.0045, of the variance ~0.006.
  CHECK(std::fabs(mean) < 0.02);
  CHECK(var == Approx(4.0 / 3.0).margin(0.03));
  CHECK(largest <= 4.0);
  // E[cos(z t)] = sinc(t)^4 at t = 0.7 (a one-dimensional kernel value).
  double mc = 0;
  for (double e : x) mc += std::cos(0.7 * e) / x.size();
  CHECK(mc == Approx(std::pow(std::sin(0.7) / 0.7, 4)).margin(0.01));
}

TEST_CASE("RFA: float64 gradients for q, k, v and R", "[linear-attention-op][gradcheck][rfa]") {
  for (bool per_dim : {false, true}) {
    for (bool causal : {false, true}) {
      INFO("per_dim " << per_dim << " causal " << causal);
      Tensor q = random_tensor({1, 3, 2, 4}, 70), k = random_tensor({1, 5, 2, 4}, 71);
      Tensor v = random_tensor({1, 5, 2, 4}, 72);
      Tensor R = per_dim ? random_tensor({4}, 73, 0.8, 1.4) : Tensor::full({1}, 1.2, DType::F64);
      Tensor freqs = gaussian_frequencies(16, 4, {3, 2}, DType::F64);
      LinearAttentionOptions o;
      o.causal = causal;
      CHECK(gradcheck([o, freqs](const Inputs& x) { return rfa_attention(bnhd(x[0]), bnhd(x[1]), bnhd(x[2]), freqs, x[3], o); },
                      {q, k, v, R}) == "");
    }
  }
}

TEST_CASE("RFA: the rows are normalised, so the scale of q and k does not matter", "[linear-attention-op][rfa]") {
  Tensor q = random_tensor({1, 2, 6, 4}, 74), k = random_tensor({1, 2, 9, 4}, 75), v = random_tensor({1, 2, 9, 4}, 76);
  Tensor R = Tensor::full({1}, 1.0, DType::F64);
  Tensor freqs = gaussian_frequencies(32, 4, {7, 0}, DType::F64);
  LinearAttentionOptions o;
  o.causal = true;
  const Tensor a = rfa_attention(q, k, v, freqs, R, o), b = rfa_attention(mul(q, 7.5), mul(k, 0.02), v, freqs, R, o);
  // Equal up to the 1e-12 inside the square root (relative 1e-12 / |k|^2 at |k| ~ 0.02).
  CHECK(testing::max_abs_diff(a, b) < 1e-8);
  const std::vector<double> u = unit_rows(random_tensor({3, 5}, 77)).to_vector<double>();
  for (int r = 0; r < 3; ++r) {
    double n2 = 0;
    for (int d = 0; d < 5; ++d) n2 += u[r * 5 + d] * u[r * 5 + d];
    CHECK(n2 == Approx(1.0).epsilon(1e-10));
  }
}

TEST_CASE("RFA: error against the exact softmax of R^2 q^ . k^ falls like 1/sqrt(m)", "[linear-attention-op][rfa]") {
  // exp(-R^2 |q^ - k^|^2 / 2) = exp(-R^2) exp(R^2 q^ . k^) for unit rows: the normalised weights
  // are softmax(R^2 q^ . k^), the dot-score attention of q^ and k^ at scale R^2. R = 1 keeps the
  // kernel sums far from 0 (weights between e^-2 and 1).
  Tensor q = random_tensor({1, 2, 32, 8}, 80), k = random_tensor({1, 2, 32, 8}, 81), v = random_tensor({1, 2, 32, 8}, 82);
  const double R2 = 1.0;
  Tensor R = Tensor::full({1}, std::sqrt(R2), DType::F64);
  for (bool causal : {false, true}) {
    AttentionOptions exact_options;
    exact_options.causal = causal;
    exact_options.scale = R2;
    const Tensor exact = attention(unit_rows(q), unit_rows(k), v, exact_options);
    LinearAttentionOptions o;
    o.causal = causal;
    check_monte_carlo_rate(causal ? "rfa causal" : "rfa full", exact, [&](int64_t m, uint64_t draw) {
      return rfa_attention(q, k, v, gaussian_frequencies(m, 8, {200, draw}, DType::F64), R, o);
    });
  }
}

TEST_CASE("gaussian frequencies: deterministic standard normal draws", "[linear-attention-op][rfa]") {
  const Tensor w = gaussian_frequencies(4096, 16, {5, 9}, DType::F64);
  REQUIRE(w.shape() == Shape{4096, 16});
  CHECK(testing::max_abs_diff(w, gaussian_frequencies(4096, 16, {5, 9}, DType::F64)) == 0.0);
  CHECK(testing::max_abs_diff(w, gaussian_frequencies(4096, 16, {5, 10}, DType::F64)) > 1.0);
  const std::vector<double> x = w.to_vector<double>();
  double mean = 0, var = 0;
  for (double e : x) mean += e / x.size();
  for (double e : x) var += (e - mean) * (e - mean) / (x.size() - 1);
  // 65536 draws: standard error of the mean 0.004, of the variance ~0.0055.
  CHECK(std::fabs(mean) < 0.02);
  CHECK(var == Approx(1.0).margin(0.025));
  // E[cos(w t)] = exp(-t^2 / 2) at t = 0.9.
  double mc = 0;
  for (double e : x) mc += std::cos(0.9 * e) / x.size();
  CHECK(mc == Approx(std::exp(-0.81 / 2)).margin(0.01));
}

TEST_CASE("CUDA linear attention matches the CPU, values and gradients", "[linear-attention-op][cuda]") {
  FF_REQUIRE_CUDA();
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    Tensor q = random_tensor({2, 3, 150, 8}, 70, -0.5, 0.5, DType::F32);
    Tensor k = random_tensor({2, 3, 180, 8}, 71, -0.5, 0.5, DType::F32);
    Tensor v = random_tensor({2, 3, 180, 8}, 72, -1.0, 1.0, DType::F32);
    Tensor R = Tensor::full({8}, 1.5, DType::F32);
    Tensor freqs = sinc_frequencies(96, 8, 4, {1, 2}, DType::F32);
    LinearAttentionOptions o;
    o.causal = causal;
    CHECK(testing::compare_cuda_with_cpu(
              [o](const Inputs& x) { return fourier_rf_attention(x[0], x[1], x[2], x[4], x[3], o); },
              {q, k, v, R, freqs}, 2e-4) == "");
  }
}
