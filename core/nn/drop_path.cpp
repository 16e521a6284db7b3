#include "core/nn/drop_path.h"

#include "core/ops/dropout.h"

namespace ff::nn {

DropPath::DropPath(double p, Generator& gen) : p(p), gen_(&gen) {
  FF_USER_CHECK(p >= 0 && p < 1, "drop-path probability must be in [0, 1), got {}", p);
}

Tensor DropPath::forward(const Tensor& x) { return drop_path(x, p, is_training(), *gen_); }

}  // namespace ff::nn
