// Compiled with -ffp-contract=off (data/CMakeLists.txt), as the transforms that draw from it.

#include "data/image/sample_rng.h"

#include <cmath>

namespace ff::data {

double SampleRng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

double SampleRng::normal() {
  const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

double SampleRng::normal(double mean, double stddev) { return mean + stddev * normal(); }

void SampleRng::fill_normal(float* out, int64_t n) {
  const kernels::philox::NormalTransform normal{0.0f, 1.0f};
  int64_t i = 0;
  while (i < n) {
    float v[4];
    normal(next_block(), v);
    for (int k = 0; k < 4 && i < n; ++k) out[i++] = v[k];
  }
}

namespace {
// log of a Gamma(alpha) variate for alpha >= 1: with d = alpha - 1/3 and c = 1 / sqrt(9 d),
// accept v = (1 + c x)^3 (x standard normal) with the squeeze u < 1 - 0.0331 x^4 or the full
// test log u < x^2 / 2 + d (1 - v + log v); the variate is d v.
double log_gamma_at_least_one(SampleRng& rng, double alpha) {
  const double d = alpha - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    const double x = rng.normal();
    const double t = 1.0 + c * x;
    if (t <= 0.0) continue;
    const double v = t * t * t;
    const double u = 1.0 - rng.uniform();  // (0, 1]
    const double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2 || std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v))) {
      return std::log(d) + std::log(v);
    }
  }
}
}  // namespace

double log_gamma_variate(SampleRng& rng, double alpha) {
  FF_CHECK(alpha > 0.0 && std::isfinite(alpha), "gamma: alpha must be finite and > 0, got {}", alpha);
  if (alpha >= 1.0) return log_gamma_at_least_one(rng, alpha);
  const double boosted = log_gamma_at_least_one(rng, alpha + 1.0);
  const double u = 1.0 - rng.uniform();  // (0, 1]
  return boosted + std::log(u) / alpha;
}

double gamma_variate(SampleRng& rng, double alpha) { return std::exp(log_gamma_variate(rng, alpha)); }

double beta_variate(SampleRng& rng, double alpha, double beta) {
  const double log_x = log_gamma_variate(rng, alpha);
  const double log_y = log_gamma_variate(rng, beta);
  return 1.0 / (1.0 + std::exp(log_y - log_x));
}

}  // namespace ff::data
