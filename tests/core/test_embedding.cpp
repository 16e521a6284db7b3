// embedding: lookup values, scatter-add gradients with repeated ids (int32 and int64),
// out-of-range ids, and CUDA against CPU.

#include <catch2/catch.hpp>

#include "core/ops/embedding.h"
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

TEST_CASE("embedding looks up rows", "[embedding]") {
  Tensor w = random_tensor({7, 3}, 1, -1, 1, DType::F32);
  std::vector<int64_t> ids = {6, 0, 2, 2, 5, 1};
  Tensor idx = Tensor::from_vector(ids, {2, 3});
  Tensor out = ff::embedding(w, idx);
  REQUIRE(out.shape() == Shape{2, 3, 3});
  std::vector<float> wv = w.to_vector<float>(), ov = out.to_vector<float>();
  for (size_t i = 0; i < ids.size(); ++i)
    for (int d = 0; d < 3; ++d) CHECK(ov[i * 3 + d] == wv[ids[i] * 3 + d]);
  // int32 ids and a non-contiguous weight give the same values.
  std::vector<int32_t> ids32(ids.begin(), ids.end());
  Tensor wt = ff::transpose(ff::contiguous(ff::transpose(w, 0, 1)), 0, 1);
  CHECK(max_abs_diff(ff::embedding(wt, Tensor::from_vector(ids32, {2, 3})), out) == 0.0);
  // A scalar id gives one row.
  CHECK(ff::embedding(w, Tensor::from_vector(std::vector<int64_t>{4}, {})).shape() == Shape{3});
}

TEST_CASE("embedding gradient scatter-adds repeated ids (float64)", "[embedding]") {
  std::vector<int64_t> ids = {3, 1, 3, 0, 3, 1};  // 3 three times, 1 twice, 2 and 4 never
  SECTION("int64 ids") {
    Tensor idx = Tensor::from_vector(ids, {2, 3});
    auto f = [&](const std::vector<Tensor>& in) { return ff::embedding(in[0], idx); };
    CHECK(gradcheck(f, {random_tensor({5, 4}, 2)}) == "");
  }
  SECTION("int32 ids") {
    Tensor idx = Tensor::from_vector(std::vector<int32_t>(ids.begin(), ids.end()), {6});
    auto f = [&](const std::vector<Tensor>& in) { return ff::embedding(in[0], idx); };
    CHECK(gradcheck(f, {random_tensor({5, 4}, 3)}) == "");
  }
  SECTION("exact sums") {
    Tensor w = Tensor::zeros({5, 2}, DType::F64).set_requires_grad(true);
    Tensor out = ff::embedding(w, Tensor::from_vector(ids, {6}));
    ff::sum(out).backward();
    std::vector<double> g = w.grad().to_vector<double>();
    std::vector<double> want = {1, 1, 2, 2, 0, 0, 3, 3, 0, 0};
    CHECK(g == want);
  }
}

TEST_CASE("embedding rejects bad ids and shapes", "[embedding]") {
  Tensor w = Tensor::zeros({5, 2});
  CHECK_THROWS_WITH(ff::embedding(w, Tensor::from_vector(std::vector<int64_t>{1, 7}, {2})),
                    Contains("id 7") && Contains("V = 5"));
  CHECK_THROWS_WITH(ff::embedding(w, Tensor::from_vector(std::vector<int32_t>{-1}, {1})),
                    Contains("id -1") && Contains("V = 5"));
  CHECK_THROWS_WITH(ff::embedding(w, Tensor::zeros({2})), Contains("int32 or int64"));
  CHECK_THROWS_WITH(ff::embedding(Tensor::zeros({5}), Tensor::from_vector(std::vector<int64_t>{1}, {1})),
                    Contains("[5]"));
}

TEST_CASE("CUDA embedding matches the CPU, forward and backward", "[embedding][cuda]") {
  FF_REQUIRE_CUDA();
  const Device gpu = Device::cuda(0);
  const int64_t V = 50, D = 33;
  std::vector<int64_t> ids;
  for (int i = 0; i < 300; ++i) ids.push_back((i * 7 + i / 13) % V);  // many repeats
  for (DType id_type : {DType::I64, DType::I32}) {
    Tensor idx = ff::to_dtype(Tensor::from_vector(ids, {10, 30}), id_type);
    Tensor wc = random_tensor({V, D}, 4, -1, 1, DType::F32).set_requires_grad(true);
    Tensor wg = ff::to_device(wc.detach(), gpu).set_requires_grad(true);
    Tensor yc = ff::embedding(wc, idx), yg = ff::embedding(wg, ff::to_device(idx, gpu));
    CHECK(max_abs_diff(yc, yg) == 0.0);
    Tensor r = random_tensor(yc.shape(), 5, -1, 1, DType::F32);
    ff::sum(ff::mul(yc, r)).backward();
    ff::sum(ff::mul(yg, ff::to_device(r, gpu))).backward();
    CHECK(max_abs_diff(wc.grad(), wg.grad()) < 1e-5);
  }
}
