#include "core/ops/dropout.h"

#include "core/autograd/autograd.h"
#include "core/ops/dispatch.h"
#include "core/ops/elementwise.h"
#include "core/ops/view.h"
#include "kernels/random.h"

namespace ff {
namespace {

// A contiguous scaled keep-mask of `shape` on x's device, in x's dtype (f32 for bf16 x: the
// product is then computed in f32 and rounded once, and a bf16 run draws the masks of an f32
// run).
Tensor make_mask(const Tensor& x, const Shape& shape, double p, Generator& gen) {
  const auto state = gen.next();
  const float p_keep = static_cast<float>(1.0 - p);
  const DType dtype = computes_in_f32<kernels::kRandomDTypes>(x) ? DType::F32 : x.dtype();
  Tensor mask = Tensor::empty(shape, dtype, x.device());
  const int64_t n = mask.numel();
  dispatch<kernels::kRandomDTypes>("dropout", mask, [&]<typename T>(auto exec) {
    dropout_mask<T>(exec, mask.data<T>(), n, p_keep, state);
  });
  return mask;
}

// y = x * mask (mask broadcast to x), recorded with only the mask saved.
Tensor apply_mask(const Tensor& x, const Tensor& mask, const char* name) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = to_dtype(mul(x, mask), x.dtype());
  }
  record_op(y, name, {x}, [mask](const Tensor& g, const std::vector<bool>&) {
    return Grads{to_dtype(mul(g, mask), g.dtype())};
  });
  return y;
}

void check_p(const char* op, double p) {
  FF_CHECK(p >= 0.0 && p <= 1.0, "{}: probability {} is outside [0, 1]", op, p);
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  check_p("dropout", p);
  if (!training || p == 0.0) return x;
  return apply_mask(x, make_mask(x, x.shape(), p, gen), "dropout");
}

Tensor drop_path(const Tensor& x, double p, bool training, Generator& gen) {
  check_p("drop_path", p);
  if (!training || p == 0.0) return x;
  FF_CHECK(x.dim() >= 1, "drop_path needs a leading batch dim, got {}", x.str());
  Shape mask_shape(x.dim(), 1);
  mask_shape[0] = x.size(0);
  return apply_mask(x, make_mask(x, mask_shape, p, gen), "drop_path");
}

}  // namespace ff
