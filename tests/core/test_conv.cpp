// conv2d_patch: values against a naive convolution loop, float64 gradients for x, w and b,
// shape errors, and CUDA against CPU.

#include <catch2/catch.hpp>
#include <cmath>

#include "core/ops/conv.h"
#include "core/ops/ops.h"
#include "support/gradcheck.h"
#include "support/skip.h"

using Catch::Matchers::Contains;
using ff::Device;
using ff::DType;
using ff::Shape;
using ff::Tensor;
using ff::testing::gradcheck;
using ff::testing::max_abs_diff;
using ff::testing::random_tensor;

namespace {

// Direct convolution with stride == kernel == P, in double.
Tensor naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, int64_t P) {
  int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), E = w.size(0);
  int64_t nH = H / P, nW = W / P;
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>();
  std::vector<double> bv = b.defined() ? b.to_vector<double>() : std::vector<double>(E, 0.0);
  std::vector<double> out(B * E * nH * nW);
  for (int64_t n = 0; n < B; ++n)
    for (int64_t e = 0; e < E; ++e)
      for (int64_t i = 0; i < nH; ++i)
        for (int64_t j = 0; j < nW; ++j) {
          double acc = bv[e];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t p = 0; p < P; ++p)
              for (int64_t q = 0; q < P; ++q)
                acc += xv[((n * C + c) * H + i * P + p) * W + j * P + q] * wv[((e * C + c) * P + p) * P + q];
          out[((n * E + e) * nH + i) * nW + j] = acc;
        }
  return Tensor::from_vector(out, {B, E, nH, nW});
}

}  // namespace

TEST_CASE("conv2d_patch matches a naive convolution", "[conv]") {
  Tensor x = random_tensor({2, 3, 8, 12}, 1, -1, 1, DType::F32);
  Tensor w = random_tensor({5, 3, 4, 4}, 2, -1, 1, DType::F32);
  Tensor b = random_tensor({5}, 3, -1, 1, DType::F32);
  Tensor y = ff::conv2d_patch(x, w, b, 4);
  REQUIRE(y.shape() == Shape{2, 5, 2, 3});
  CHECK(y.is_contiguous());
  CHECK(max_abs_diff(y, naive_conv(x, w, b, 4)) < 1e-5);
  CHECK(max_abs_diff(ff::conv2d_patch(x, w, Tensor(), 4), naive_conv(x, w, Tensor(), 4)) < 1e-5);
  // patch 1 is a per-pixel linear map; a non-contiguous input works too.
  Tensor x1 = ff::transpose(random_tensor({2, 3, 5, 4}, 4, -1, 1, DType::F32), 2, 3);
  Tensor w1 = random_tensor({6, 3, 1, 1}, 5, -1, 1, DType::F32);
  CHECK(max_abs_diff(ff::conv2d_patch(x1, w1, Tensor(), 1), naive_conv(x1, w1, Tensor(), 1)) < 1e-5);
}

TEST_CASE("conv2d_patch gradients (float64)", "[conv]") {
  auto f = [](const std::vector<Tensor>& in) { return ff::conv2d_patch(in[0], in[1], in[2], 2); };
  CHECK(gradcheck(f, {random_tensor({2, 3, 4, 6}, 1), random_tensor({4, 3, 2, 2}, 2), random_tensor({4}, 3)}) == "");
  auto g = [](const std::vector<Tensor>& in) { return ff::conv2d_patch(in[0], in[1], Tensor(), 3); };
  CHECK(gradcheck(g, {random_tensor({1, 2, 3, 6}, 4), random_tensor({3, 2, 3, 3}, 5)}) == "");
}

TEST_CASE("conv2d_patch reports bad shapes", "[conv]") {
  Tensor w = Tensor::zeros({4, 3, 4, 4});
  CHECK_THROWS_WITH(ff::conv2d_patch(Tensor::zeros({1, 3, 10, 8}), w, Tensor(), 4),
                    Contains("[1, 3, 10, 8]") && Contains("patch size 4"));
  CHECK_THROWS_WITH(ff::conv2d_patch(Tensor::zeros({1, 2, 8, 8}), w, Tensor(), 4),
                    Contains("[4, 3, 4, 4]") && Contains("[1, 2, 8, 8]"));
  CHECK_THROWS_WITH(ff::conv2d_patch(Tensor::zeros({1, 3, 8, 8}), w, Tensor::zeros({5}), 4), Contains("[5]"));
  CHECK_THROWS_WITH(ff::conv2d_patch(Tensor::zeros({3, 8, 8}), w, Tensor(), 4), Contains("[3, 8, 8]"));
}

TEST_CASE("CUDA conv2d_patch matches the CPU, forward and backward", "[conv][cuda]") {
  FF_REQUIRE_CUDA();
  const Device gpu = Device::cuda(0);
  Tensor xc = random_tensor({3, 3, 32, 16}, 1, -1, 1, DType::F32).set_requires_grad(true);
  Tensor wc = random_tensor({24, 3, 8, 8}, 2, -1, 1, DType::F32).set_requires_grad(true);
  Tensor bc = random_tensor({24}, 3, -1, 1, DType::F32).set_requires_grad(true);
  Tensor xg = ff::to_device(xc.detach(), gpu).set_requires_grad(true);
  Tensor wg = ff::to_device(wc.detach(), gpu).set_requires_grad(true);
  Tensor bg = ff::to_device(bc.detach(), gpu).set_requires_grad(true);
  Tensor yc = ff::conv2d_patch(xc, wc, bc, 8), yg = ff::conv2d_patch(xg, wg, bg, 8);
  CHECK(max_abs_diff(yc, yg) < 1e-4);
  Tensor r = random_tensor(yc.shape(), 4, -1, 1, DType::F32);
  ff::sum(ff::mul(yc, r)).backward();
  ff::sum(ff::mul(yg, ff::to_device(r, gpu))).backward();
  CHECK(max_abs_diff(xc.grad(), xg.grad()) < 1e-4);
  CHECK(max_abs_diff(wc.grad(), wg.grad()) < 1e-4);
  CHECK(max_abs_diff(bc.grad(), bg.grad()) < 1e-4);

  // cuDNN in f64 against the CPU's im2col + GEMM, without a bias, gradients of x and w.
  Tensor x64 = random_tensor({2, 2, 12, 8}, 5).set_requires_grad(true);
  Tensor w64 = random_tensor({5, 2, 4, 4}, 6).set_requires_grad(true);
  Tensor xg64 = ff::to_device(x64.detach(), gpu).set_requires_grad(true);
  Tensor wg64 = ff::to_device(w64.detach(), gpu).set_requires_grad(true);
  Tensor y64 = ff::conv2d_patch(x64, w64, Tensor(), 4), yg64 = ff::conv2d_patch(xg64, wg64, Tensor(), 4);
  CHECK(max_abs_diff(y64, yg64) < 1e-12);
  ff::sum(ff::square(y64)).backward();
  ff::sum(ff::square(yg64)).backward();
  CHECK(max_abs_diff(x64.grad(), xg64.grad()) < 1e-11);
  CHECK(max_abs_diff(w64.grad(), wg64.grad()) < 1e-11);

  // bf16 operands (tensor cores, f32 accumulation): within bf16 rounding of the f32 result
  // (|y| <= C*P*P = 192 with inputs in [-1, 1]; three roundings of 2^-8 relative on the inputs).
  Tensor y16 = ff::conv2d_patch(ff::to_dtype(xg.detach(), DType::BF16), ff::to_dtype(wg.detach(), DType::BF16),
                                ff::to_dtype(bg.detach(), DType::BF16), 8);
  CHECK(y16.dtype() == DType::BF16);
  CHECK(max_abs_diff(ff::to_dtype(y16, DType::F32), yg) < 192 * 3 * std::ldexp(1.0, -8));
}
