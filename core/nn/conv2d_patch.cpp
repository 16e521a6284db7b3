#include "core/nn/conv2d_patch.h"

#include <cmath>

#include "core/nn/init.h"
#include "core/ops/conv.h"

namespace ff::nn {

Conv2dPatch::Conv2dPatch(int64_t in_channels, int64_t out_channels, int64_t patch, Generator& gen, bool bias,
                         DType dtype)
    : in_channels(in_channels), out_channels(out_channels), patch(patch) {
  FF_CHECK(in_channels > 0 && out_channels > 0 && patch > 0, "Conv2dPatch({}, {}, {}) needs positive sizes",
           in_channels, out_channels, patch);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_channels * patch * patch));
  register_parameter("weight", weight = Tensor::empty({out_channels, in_channels, patch, patch}, dtype));
  init::uniform_(weight, -bound, bound, gen);
  if (bias) {
    register_parameter("bias", this->bias = Tensor::empty({out_channels}, dtype));
    init::uniform_(this->bias, -bound, bound, gen);
  }
}

Tensor Conv2dPatch::forward(const Tensor& x) { return conv2d_patch(x, weight, bias, patch); }

}  // namespace ff::nn
