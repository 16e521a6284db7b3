#include "support/gradcheck.h"

#include <cmath>
#include <random>

namespace ff::testing {

Tensor random_tensor(const Shape& shape, uint64_t seed, double lo, double hi, DType dtype, Device device) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> values(shape_numel(shape));
  for (double& v : values) v = dist(rng);
  return to_device(to_dtype(Tensor::from_vector(values, shape), dtype), device);
}

std::vector<float> random_floats(int64_t n, uint64_t seed, double lo, double hi) {
  return random_tensor({n}, seed, lo, hi).to_vector<float>();
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  FF_CHECK(a.shape() == b.shape(), "max_abs_diff: {} vs {}", a.str(), b.str());
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    double d = std::abs(va[i] - vb[i]);
    if (std::isnan(d)) return INFINITY;
    m = std::max(m, d);
  }
  return m;
}

std::string gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                      GradcheckOptions options) {
  for (Tensor& x : inputs) {
    FF_CHECK(x.dtype() == DType::F64 && x.device().is_cpu() && x.is_contiguous(),
             "gradcheck inputs must be contiguous f64 CPU tensors, got {}", x.str());
    x.set_requires_grad(true);
    x.set_grad(Tensor());
  }
  Tensor y0 = f(inputs);
  Tensor w = random_tensor(y0.shape(), 12345, -1.0, 1.0);
  auto loss_of = [&](const Tensor& y) { return sum(mul(y, w)); };
  loss_of(y0).backward();

  NoGradGuard no_grad;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor& x = inputs[i];
    Tensor analytic = x.grad();
    if (!analytic.defined()) analytic = Tensor::zeros(x.shape(), DType::F64);
    std::vector<double> a = analytic.to_vector<double>();
    double* data = x.data<double>();
    for (int64_t e = 0; e < x.numel(); ++e) {
      double saved = data[e];
      data[e] = saved + options.eps;
      double plus = loss_of(f(inputs)).item();
      data[e] = saved - options.eps;
      double minus = loss_of(f(inputs)).item();
      data[e] = saved;
      double numeric = (plus - minus) / (2 * options.eps);
      if (!(std::abs(numeric - a[e]) <= options.atol + options.rtol * std::abs(numeric))) {
        return fmt::format("input {} ({}) element {}: analytic {} vs numeric {}", i, x.str(), e, a[e], numeric);
      }
    }
  }
  return "";
}

}  // namespace ff::testing
