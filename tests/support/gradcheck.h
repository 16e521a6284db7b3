#pragma once
// Test helpers: random tensors and a float64 gradient check by central differences (as
// torch.autograd.gradcheck does).

#include <functional>
#include <string>
#include <vector>

#include "core/ops/ops.h"

namespace ff::testing {

// Uniform values in [lo, hi) from a fixed seed (host RNG; independent of the library's Philox).
Tensor random_tensor(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0,
                     DType dtype = DType::F64, Device device = Device::cpu());
// The same values as a flat host vector of n floats, for the tests of raw-pointer kernels.
std::vector<float> random_floats(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0);

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-5;
};

// Checks d(sum(f(inputs) * w))/d inputs against central differences, for a fixed random w.
// `inputs` are float64 CPU leaves (made to require grad here). Returns "" when every element
// matches, else a description of the first mismatch.
std::string gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                      GradcheckOptions options = {});

// Largest |a - b| over all elements (same shape required), computed on the host in double.
double max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace ff::testing
