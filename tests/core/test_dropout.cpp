#include <catch2/catch.hpp>

#include <cmath>

#include "support/device_parity.h"
#include "core/ops/ops.h"
#include "support/gradcheck.h"
#include "support/skip.h"

using namespace ff;
using testing::gradcheck;
using testing::random_tensor;

TEST_CASE("dropout keeps about 1 - p of the elements, scaled by 1 / (1 - p)", "[dropout]") {
  const int64_t n = 1 << 20;
  for (double p : {0.1, 0.5, 0.9}) {
    INFO("p = " << p);
    Generator gen(42);
    Tensor x = random_tensor({n / 64, 64}, 1, 0.5, 1.5, DType::F32);
    std::vector<float> xv = x.to_vector<float>();
    std::vector<float> y = dropout(x, p, true, gen).to_vector<float>();
    const float scale = 1.0f / static_cast<float>(1.0 - p);  // the mask's value, in f32
    int64_t kept = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (y[i] == 0.0f) continue;
      ++kept;
      REQUIRE(y[i] == xv[i] * scale);
    }
    // The kept fraction has a standard deviation of sqrt(p (1 - p) / n) < 5e-4.
    CHECK(double(kept) / n == Approx(1.0 - p).margin(3e-3));
  }
  // In f64 with p = 0.5 the scale 2 is exact.
  Generator gen(1);
  Tensor x = random_tensor({1000}, 2, 0.5, 1.5);
  std::vector<double> xv = x.to_vector<double>(), y = dropout(x, 0.5, true, gen).to_vector<double>();
  for (size_t i = 0; i < y.size(); ++i) CHECK((y[i] == 0.0 || y[i] == 2.0 * xv[i]));
}

TEST_CASE("dropout masks follow the generator state", "[dropout]") {
  Tensor ones = Tensor::ones({4096});
  Generator a(7), b(7), c(8);
  Tensor ma = dropout(ones, 0.3, true, a), mb = dropout(ones, 0.3, true, b), mc = dropout(ones, 0.3, true, c);
  CHECK(testing::max_abs_diff(ma, mb) == 0.0);
  CHECK(testing::max_abs_diff(ma, mc) > 0.0);
  // Each call advances the stream: a second draw differs from the first.
  CHECK(testing::max_abs_diff(dropout(ones, 0.3, true, a), ma) > 0.0);
  CHECK(a.state().offset == 2);
  // f32 and f64 draw the same mask.
  Generator d(7);
  CHECK(testing::max_abs_diff(dropout(Tensor::ones({4096}, DType::F64), 0.3, true, d), ma) < 1e-6);
}

TEST_CASE("dropout backward multiplies by the forward's mask", "[dropout]") {
  Generator gen(3);
  Tensor x = Tensor::ones({50, 20}, DType::F64);
  x.set_requires_grad(true);
  Tensor y = dropout(x, 0.4, true, gen);
  sum(y).backward();
  // With x = 1 the output is the mask itself.
  CHECK(testing::max_abs_diff(x.grad(), y.detach()) == 0.0);
  // Gradient check with the same mask at every evaluation: the generator is re-created inside f.
  REQUIRE(gradcheck([](const std::vector<Tensor>& in) {
            Generator g(11);
            return dropout(in[0], 0.3, true, g);
          },
          {random_tensor({6, 7}, 4)}) == "");
  REQUIRE(gradcheck([](const std::vector<Tensor>& in) {
            Generator g(12);
            return dropout(transpose(in[0], 0, 1), 0.5, true, g);
          },
          {random_tensor({5, 4}, 5)}) == "");
}

TEST_CASE("dropout in eval mode or with p = 0 is the identity", "[dropout]") {
  Generator gen(5);
  Tensor x = random_tensor({3, 4}, 6);
  x.set_requires_grad(true);
  for (Tensor y : {dropout(x, 0.5, false, gen), dropout(x, 0.0, true, gen), drop_path(x, 0.5, false, gen)}) {
    CHECK(y.storage() == x.storage());
    CHECK(y.is_leaf());
  }
  CHECK(gen.state().offset == 0);  // no random state drawn
  CHECK_THROWS_AS(dropout(x, 1.5, true, gen), Error);
  // p = 1 drops everything.
  CHECK(testing::max_abs_diff(dropout(x.detach(), 1.0, true, gen), Tensor::zeros({3, 4}, DType::F64)) == 0.0);
}

TEST_CASE("drop_path zeroes whole samples", "[dropout]") {
  const int64_t B = 4000;
  Generator gen(9);
  Tensor x = random_tensor({B, 3, 5}, 7, 0.5, 1.5, DType::F32);
  std::vector<float> xv = x.to_vector<float>(), y = drop_path(x, 0.25, true, gen).to_vector<float>();
  const float scale = 1.0f / 0.75f;
  int64_t kept = 0;
  for (int64_t b = 0; b < B; ++b) {
    const bool keep = y[b * 15] != 0.0f;
    kept += keep;
    for (int64_t e = 0; e < 15; ++e) REQUIRE(y[b * 15 + e] == (keep ? xv[b * 15 + e] * scale : 0.0f));
  }
  CHECK(double(kept) / B == Approx(0.75).margin(0.03));
  REQUIRE(gradcheck([](const std::vector<Tensor>& in) {
            Generator g(13);
            return drop_path(in[0], 0.5, true, g);
          },
          {random_tensor({8, 2, 3}, 8)}) == "");
}

TEST_CASE("dropout and drop_path on CUDA draw the CPU's masks", "[dropout][cuda]") {
  FF_REQUIRE_CUDA();
  for (int64_t n : {1, 3, 1000, 123457}) {
    Generator cpu_gen(21), cuda_gen(21);
    Tensor mask_cpu = dropout(Tensor::ones({n}), 0.37, true, cpu_gen);
    Tensor mask_cuda = dropout(Tensor::ones({n}, DType::F32, Device::cuda()), 0.37, true, cuda_gen);
    REQUIRE(mask_cuda.device().is_cuda());
    CHECK(testing::max_abs_diff(mask_cuda, mask_cpu) == 0.0);
  }
  Tensor x = random_tensor({64, 33}, 22, -1.0, 1.0, DType::F32);
  REQUIRE(testing::compare_cuda_with_cpu([](const std::vector<Tensor>& in) {
            Generator g(23);
            return dropout(in[0], 0.2, true, g);
          },
          {x}, 0.0) == "");
  REQUIRE(testing::compare_cuda_with_cpu([](const std::vector<Tensor>& in) {
            Generator g(24);
            return drop_path(in[0], 0.3, true, g);
          },
          {random_tensor({16, 5, 7}, 25, -1.0, 1.0, DType::F32)}, 0.0) == "");
}
