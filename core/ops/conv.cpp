#include "core/ops/conv.h"

#include "core/autograd/autograd.h"
#include "core/ops/autocast.h"
#include "core/ops/dispatch.h"
#include "core/ops/flops.h"
#include "core/ops/linalg.h"
#include "core/ops/view.h"
#include "kernels/conv.h"

namespace ff {

namespace {

// The fused kernel (cuDNN on CUDA): x, w, b already checked and of one dtype and device.
Tensor conv2d_patch_kernel(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, int64_t P) {
  const Tensor x = contiguous_raw(x_in.detach()), w = contiguous_raw(w_in.detach());
  const Tensor b = b_in.defined() ? contiguous_raw(b_in.detach()) : Tensor();
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), E = w.size(0);
  Tensor y = Tensor::empty({B, E, H / P, W / P}, x.dtype(), x.device());
  dispatch<kernels::kConvPatchDTypes>("conv2d_patch", x, [&]<typename T>(auto exec) {
    kernels::ConvPatchParams<T> p{.B = B, .C = C, .H = H, .W = W, .E = E, .P = P,
                                  .x = x.data<T>(), .w = w.data<T>(), .b = data_or_null<T>(b), .y = y.data<T>()};
    conv2d_patch_forward<T>(exec, p);
  });
  const double flops = 2.0 * double(B) * double(H * W) * double(E) * double(C);  // a GEMM per patch row
  add_model_flops(flops);
  record_op(y, "conv2d_patch", {x_in, w_in, b_in}, [x, w, has_bias = b.defined(), B, C, H, W, E, P, flops](
                                                        const Tensor& g_in, const std::vector<bool>& needs) {
    const Tensor g = contiguous_raw(g_in);
    Tensor dx = needs[0] ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
    Tensor dw = needs[1] ? Tensor::empty(w.shape(), w.dtype(), w.device()) : Tensor();
    Tensor db = has_bias && needs[2] ? Tensor::empty({E}, w.dtype(), w.device()) : Tensor();
    dispatch<kernels::kConvPatchDTypes>("conv2d_patch", x, [&]<typename T>(auto exec) {
      kernels::ConvPatchParams<T> p{.B = B, .C = C, .H = H, .W = W, .E = E, .P = P, .x = x.data<T>(),
                                    .w = w.data<T>(), .dy = g.data<T>(), .dx = data_or_null<T>(dx),
                                    .dw = data_or_null<T>(dw), .db = data_or_null<T>(db)};
      conv2d_patch_backward<T>(exec, p);
    });
    add_model_flops((needs[0] ? flops : 0.0) + (needs[1] ? flops : 0.0));
    return Grads{dx, dw, db};
  });
  return y;
}

}  // namespace

Tensor conv2d_patch(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, int64_t patch) {
  const Tensor x = autocast_low(x_in), w = autocast_low(w_in), b = autocast_low(b_in);
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
  if (has_kernel<kernels::kConvPatchDTypes>(x)) return conv2d_patch_kernel(x, w, b, P);
  const int64_t nH = H / P, nW = W / P;
  // im2col: (B, C, nH, P, nW, P) -> (B, nH, nW, C, P, P): one row per patch, in (c, i, j) order
  // to match w's (E, C, P, P) layout. Each output element is one input element (no overlap).
  Tensor cols = contiguous(permute(reshape(x, {B, C, nH, P, nW, P}), {0, 2, 4, 1, 3, 5}));
  Tensor y = linear(reshape(cols, {B * nH * nW, C * P * P}), reshape(w, {E, C * P * P}), b);  // (B*nH*nW, E)
  return contiguous(permute(reshape(y, {B, nH, nW, E}), {0, 3, 1, 2}));
}

}  // namespace ff
