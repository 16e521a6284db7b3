#include "core/nn/dropout.h"

#include "core/ops/dropout.h"

namespace ff::nn {

Dropout::Dropout(double p, Generator& gen) : p(p), gen_(&gen) {
  FF_USER_CHECK(p >= 0 && p < 1, "dropout probability must be in [0, 1), got {}", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training(), *gen_); }

}  // namespace ff::nn
