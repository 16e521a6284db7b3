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

// Naive double softmax / log-softmax over the last dim of a row-major (rows, D) array.
std::vector<double> naive_softmax(const std::vector<double>& x, int64_t D, bool log) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / D; ++r) {
    double m = -INFINITY;
    for (int64_t j = 0; j < D; ++j) m = std::max(m, x[r * D + j]);
    double s = 0;
    for (int64_t j = 0; j < D; ++j) s += std::exp(x[r * D + j] - m);
    for (int64_t j = 0; j < D; ++j)
      y[r * D + j] = log ? x[r * D + j] - m - std::log(s) : std::exp(x[r * D + j] - m) / s;
  }
  return y;
}

Tensor apply(bool log, const Tensor& x, int64_t dim = -1) { return log ? log_softmax(x, dim) : softmax(x, dim); }

}  // namespace

TEST_CASE("softmax and log_softmax match the naive formula", "[softmax]") {
  for (bool log : {false, true}) {
    for (Shape shape : {Shape{1, 6}, Shape{9, 5}, Shape{4, 1}, Shape{2, 3, 7}, Shape{3, 300}}) {
      for (auto [lo, hi] : {std::pair{-3.0, 3.0}, std::pair{995.0, 1005.0}, std::pair{-1005.0, -995.0}}) {
        Tensor x = random_tensor(shape, 3, lo, hi);
        std::vector<double> want = naive_softmax(x.to_vector<double>(), shape.back(), log);
        std::vector<double> got = apply(log, x).to_vector<double>();
        // f32 against the formula on the same (rounded) inputs.
        Tensor x32 = to_dtype(x, DType::F32);
        std::vector<double> want32 = naive_softmax(to_dtype(x32, DType::F64).to_vector<double>(), shape.back(), log);
        std::vector<float> got32 = apply(log, x32).to_vector<float>();
        for (size_t i = 0; i < want.size(); ++i) {
          REQUIRE(std::isfinite(got[i]));
          CHECK(got[i] == Approx(want[i]).margin(1e-12));
          CHECK(got32[i] == Approx(want32[i]).margin(1e-6).epsilon(1e-6));
        }
      }
    }
  }
}

TEST_CASE("softmax rows sum to one and ignore -inf entries", "[softmax]") {
  Tensor x = Tensor::from_vector<double>({-INFINITY, 1, 2, 0.5, -INFINITY, 0.5}, {2, 3});
  std::vector<double> y = softmax(x).to_vector<double>();
  CHECK(y[0] == 0.0);
  CHECK(y[4] == 0.0);
  CHECK(y[1] + y[2] == Approx(1.0));
  CHECK(y[3] == Approx(0.5));
  CHECK(y[5] == Approx(0.5));
  CHECK(log_softmax(x).to_vector<double>()[1] == Approx(1 - std::log(std::exp(1.0) + std::exp(2.0))));
}

TEST_CASE("softmax along another dim equals softmax of the transpose", "[softmax]") {
  Tensor x = random_tensor({3, 4, 5}, 11);
  for (bool log : {false, true}) {
    for (int64_t dim : {0, 1}) {
      Tensor want = transpose(apply(log, contiguous(transpose(x, dim, 2))), dim, 2);
      Tensor got = apply(log, x, dim);
      CHECK(got.shape() == x.shape());
      CHECK(testing::max_abs_diff(got, want) == 0.0);
    }
  }
  CHECK(testing::max_abs_diff(softmax(x, -1), softmax(x, 2)) == 0.0);
}

TEST_CASE("softmax and log_softmax gradients match finite differences", "[softmax][gradcheck]") {
  for (bool log : {false, true}) {
    INFO((log ? "log_softmax" : "softmax"));
    for (Shape shape : {Shape{1, 5}, Shape{6, 4}, Shape{3, 1}, Shape{2, 3, 4}, Shape{7}}) {
      INFO(shape_str(shape));
      REQUIRE(gradcheck([&](const std::vector<Tensor>& in) { return apply(log, in[0]); }, {random_tensor(shape, 5)}) ==
              "");
    }
    // Large logits: the max subtraction keeps everything finite.
    REQUIRE(gradcheck([&](const std::vector<Tensor>& in) { return apply(log, in[0]); },
                      {random_tensor({3, 4}, 6, 999.0, 1001.0)}) == "");
    // Non-contiguous input: the transpose of a leaf.
    REQUIRE(gradcheck([&](const std::vector<Tensor>& in) { return apply(log, transpose(in[0], 0, 1)); },
                      {random_tensor({5, 3}, 7)}) == "");
    // Other dims.
    REQUIRE(gradcheck([&](const std::vector<Tensor>& in) { return apply(log, in[0], 0); },
                      {random_tensor({4, 3, 2}, 8)}) == "");
    REQUIRE(gradcheck([&](const std::vector<Tensor>& in) { return apply(log, in[0], 1); },
                      {random_tensor({2, 3, 4}, 9)}) == "");
  }
}

TEST_CASE("softmax and log_softmax on CUDA match the CPU", "[softmax][cuda]") {
  FF_REQUIRE_CUDA();
  for (bool log : {false, true}) {
    INFO((log ? "log_softmax" : "softmax"));
    // D = 1, below a warp, odd, a warp row, the largest warp row, block rows.
    for (Shape shape : {Shape{1, 1}, Shape{37, 1}, Shape{5, 7}, Shape{130, 33}, Shape{9, 1024}, Shape{3, 1025},
                        Shape{4, 5000}, Shape{2, 3, 64}}) {
      INFO(shape_str(shape));
      Tensor x = random_tensor(shape, 21, -5.0, 5.0, DType::F32);
      REQUIRE(testing::compare_cuda_with_cpu([&](const std::vector<Tensor>& in) { return apply(log, in[0]); }, {x},
                                             1e-5) == "");
    }
    Tensor big = random_tensor({6, 40}, 22, 990.0, 1010.0, DType::F32);
    REQUIRE(testing::compare_cuda_with_cpu([&](const std::vector<Tensor>& in) { return apply(log, in[0]); }, {big},
                                           1e-4) == "");
    Tensor x = random_tensor({6, 5, 4}, 23, -2.0, 2.0, DType::F32);
    REQUIRE(testing::compare_cuda_with_cpu([&](const std::vector<Tensor>& in) { return apply(log, in[0], 1); }, {x},
                                           1e-5) == "");
  }
}
