#include "core/nn/linear.h"

#include <cmath>

#include "core/nn/init.h"
#include "core/ops/linalg.h"

namespace ff::nn {

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias, DType dtype)
    : in_features(in_features), out_features(out_features) {
  FF_CHECK(in_features > 0 && out_features > 0, "Linear({}, {}) needs positive sizes", in_features, out_features);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  register_parameter("weight", weight = Tensor::empty({out_features, in_features}, dtype));
  init::uniform_(weight, -bound, bound, gen);
  if (bias) {
    register_parameter("bias", this->bias = Tensor::empty({out_features}, dtype));
    init::uniform_(this->bias, -bound, bound, gen);
  }
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias, activation); }

}  // namespace ff::nn
