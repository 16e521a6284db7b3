#include <catch2/catch.hpp>

#include <cmath>

#include "support/device_parity.h"
#include "core/ops/ops.h"
#include "support/gradcheck.h"
#include "support/skip.h"

using namespace ff;
using testing::gradcheck;
using testing::random_tensor;

namespace {

// Naive double layer norm over the last dim of a row-major (rows, D) array; empty w/b = none.
std::vector<double> naive_layer_norm(const std::vector<double>& x, int64_t D, const std::vector<double>& w,
                                     const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / D; ++r) {
    double m = 0, v = 0;
    for (int64_t j = 0; j < D; ++j) m += x[r * D + j] / D;
    for (int64_t j = 0; j < D; ++j) v += (x[r * D + j] - m) * (x[r * D + j] - m) / D;
    for (int64_t j = 0; j < D; ++j) {
      double t = (x[r * D + j] - m) / std::sqrt(v + eps);
      y[r * D + j] = t * (w.empty() ? 1.0 : w[j]) + (b.empty() ? 0.0 : b[j]);
    }
  }
  return y;
}

}  // namespace

TEST_CASE("layer_norm matches the naive formula", "[layernorm]") {
  for (Shape shape : {Shape{1, 8}, Shape{6, 5}, Shape{3, 1}, Shape{2, 3, 16}}) {
    const int64_t D = shape.back();
    Tensor x = random_tensor(shape, 1, -2.0, 3.0);
    Tensor w = random_tensor({D}, 2, 0.5, 1.5);
    Tensor b = random_tensor({D}, 3);
    for (int variant = 0; variant < 3; ++variant) {  // affine, no affine, weight only
      Tensor wv = variant == 1 ? Tensor() : w;
      Tensor bv = variant == 0 ? b : Tensor();
      std::vector<double> want = naive_layer_norm(x.to_vector<double>(), D, wv.defined() ? w.to_vector<double>() : std::vector<double>{},
                                                  bv.defined() ? b.to_vector<double>() : std::vector<double>{}, 1e-5);
      std::vector<double> got = layer_norm(x, wv, bv, 1e-5).to_vector<double>();
      Tensor x32 = to_dtype(x, DType::F32);
      std::vector<float> got32 =
          layer_norm(x32, wv.defined() ? to_dtype(wv, DType::F32) : Tensor(), bv.defined() ? to_dtype(bv, DType::F32) : Tensor(), 1e-5)
              .to_vector<float>();
      for (size_t i = 0; i < want.size(); ++i) {
        CHECK(got[i] == Approx(want[i]).margin(1e-12));
        CHECK(got32[i] == Approx(want[i]).margin(1e-5));
      }
    }
  }
}

TEST_CASE("layer_norm is stable for a large mean and a small spread", "[layernorm]") {
  // Rows around 1e4 with unit spread: a one-pass E[x^2] - E[x]^2 variance would lose it in f32.
  Tensor x = random_tensor({4, 64}, 4, 1e4 - 1.0, 1e4 + 1.0);
  std::vector<double> want = naive_layer_norm(to_dtype(to_dtype(x, DType::F32), DType::F64).to_vector<double>(), 64, {}, {}, 1e-5);
  std::vector<float> got = layer_norm(to_dtype(x, DType::F32), Tensor(), Tensor(), 1e-5).to_vector<float>();
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(1e-4));
}

TEST_CASE("layer_norm checks the parameter shapes", "[layernorm]") {
  Tensor x = Tensor::zeros({2, 4});
  CHECK_THROWS_WITH(layer_norm(x, Tensor::ones({3}), Tensor(), 1e-5), Catch::Contains("[3]") && Catch::Contains("(4)"));
}

TEST_CASE("layer_norm gradients match finite differences", "[layernorm][gradcheck]") {
  for (Shape shape : {Shape{1, 5}, Shape{6, 4}, Shape{3, 1}, Shape{2, 3, 6}}) {
    INFO(shape_str(shape));
    const int64_t D = shape.back();
    Tensor x = random_tensor(shape, 10, -2.0, 2.0);
    Tensor w = random_tensor({D}, 11, 0.5, 1.5);
    Tensor b = random_tensor({D}, 12);
    REQUIRE(gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2], 1e-5); }, {x, w, b}) == "");
    REQUIRE(gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], Tensor(), Tensor(), 1e-5); }, {x}) == "");
    REQUIRE(gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], Tensor(), 1e-5); }, {x, w}) == "");
    // Parameters only (x is a constant).
    REQUIRE(gradcheck([x](const std::vector<Tensor>& in) { return layer_norm(x, in[0], in[1], 0.1); }, {w, b}) == "");
  }
  // Non-contiguous input: the transpose of a leaf (normalising over its first dim).
  REQUIRE(gradcheck([](const std::vector<Tensor>& in) { return layer_norm(transpose(in[0], 0, 1), in[1], in[2], 1e-5); },
                    {random_tensor({7, 3}, 13), random_tensor({7}, 14), random_tensor({7}, 15)}) == "");
}

TEST_CASE("layer_norm on CUDA matches the CPU", "[layernorm][cuda]") {
  FF_REQUIRE_CUDA();
  // D = 1, small, a DeiT-tiny row, a row per block, a long row; rows beyond one chunk.
  for (Shape shape : {Shape{1, 1}, Shape{5, 1}, Shape{7, 5}, Shape{600, 192}, Shape{3, 17, 768}, Shape{2, 3000},
                      Shape{1100, 40}}) {
    INFO(shape_str(shape));
    const int64_t D = shape.back();
    Tensor x = random_tensor(shape, 30, -3.0, 3.0, DType::F32);
    Tensor w = random_tensor({D}, 31, 0.5, 1.5, DType::F32);
    Tensor b = random_tensor({D}, 32, -1.0, 1.0, DType::F32);
    // Parameter gradients sum over rows: the tolerance grows with their number.
    const double atol = 1e-4 * std::max<double>(1.0, std::sqrt(double(x.numel() / D)));
    REQUIRE(testing::compare_cuda_with_cpu(
                [](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2], 1e-5); }, {x, w, b}, atol) == "");
    REQUIRE(testing::compare_cuda_with_cpu(
                [](const std::vector<Tensor>& in) { return layer_norm(in[0], Tensor(), Tensor(), 1e-5); }, {x}, atol) == "");
    REQUIRE(testing::compare_cuda_with_cpu(
                [](const std::vector<Tensor>& in) { return layer_norm(transpose(in[0], 0, 1), Tensor(), in[1], 1e-5); },
                {random_tensor({D, 4}, 33, -1.0, 1.0, DType::F32), b}, atol) == "");
  }
}
