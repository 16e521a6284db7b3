#include "core/ops/conv.h"

#include "core/ops/dispatch.h"
#include "core/ops/linalg.h"
#include "core/ops/view.h"

namespace ff {

Tensor conv2d_patch(const Tensor& x, const Tensor& w, const Tensor& b, int64_t patch) {
  FF_CHECK(x.defined() && w.defined(), "conv2d_patch: undefined input or weight");
  FF_CHECK(patch > 0, "conv2d_patch: patch size must be positive, got {}", patch);
  FF_CHECK(x.dim() == 4, "conv2d_patch: input must be (B, C, H, W), got {}", shape_str(x.shape()));
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), P = patch;
  FF_CHECK(w.dim() == 4 && w.size(1) == C && w.size(2) == P && w.size(3) == P,
           "conv2d_patch: weight {} does not match input {} with patch {} (expected (E, {}, {}, {}))",
           shape_str(w.shape()), shape_str(x.shape()), P, C, P, P);
  const int64_t E = w.size(0);
  FF_CHECK(!b.defined() || (b.dim() == 1 && b.size(0) == E), "conv2d_patch: bias {} does not match weight {}",
           shape_str(b.defined() ? b.shape() : Shape{}), shape_str(w.shape()));
  FF_CHECK(H % P == 0 && W % P == 0, "conv2d_patch: input {} has H = {} and W = {}, not multiples of the patch size {}",
           shape_str(x.shape()), H, W, P);
  check_same_device("conv2d_patch", {&x, &w, &b});
  check_same_dtype("conv2d_patch", {&x, &w, &b});
  const int64_t nH = H / P, nW = W / P;
  // im2col: (B, C, nH, P, nW, P) -> (B, nH, nW, C, P, P): one row per patch, in (c, i, j) order
  // to match w's (E, C, P, P) layout. Each output element is one input element (no overlap).
  Tensor cols = contiguous(permute(reshape(x, {B, C, nH, P, nW, P}), {0, 2, 4, 1, 3, 5}));
  Tensor y = linear(reshape(cols, {B * nH * nW, C * P * P}), reshape(w, {E, C * P * P}), b);  // (B*nH*nW, E)
  return contiguous(permute(reshape(y, {B, nH, nW, E}), {0, 3, 1, 2}));
}

}  // namespace ff
