// The dispatch layer (core/ops/dispatch.h): a (device, dtype) pair without a kernel is one
// error naming the op, the backend and the dtype; bf16 on a backend without a bf16 kernel
// computes in f32.

#include <catch2/catch.hpp>

#include "core/ops/dispatch.h"
#include "core/ops/ops.h"
#include "kernels/softmax.h"
#include "support/gradcheck.h"
#include "support/skip.h"

using namespace ff;

TEST_CASE("an op without a kernel for the dtype names the op, the backend and the dtype", "[dispatch]") {
  Tensor ids = Tensor::from_vector<int32_t>({1, 2, 3}, {3});
  CHECK_THROWS_WITH(softmax(ids, -1), "softmax: no CPU kernel for I32 tensors (it has F32, F64)");
  CHECK_THROWS_WITH(exp(ids), "elementwise op: no CPU kernel for I32 tensors (it has F32, F64, BF16)");
  CHECK_THROWS_WITH(layer_norm(Tensor::from_vector<int64_t>({1, 2}, {1, 2}), Tensor(), Tensor(), 1e-5),
                    "layer_norm: no CPU kernel for I64 tensors (it has F32, F64)");
}

TEST_CASE("dispatch instantiates only the declared pairs and hands the backend's element type", "[dispatch]") {
  constexpr KernelDTypes kOnlyF64{.cpu = {DType::F64}, .cuda = {}};
  int calls = 0;
  Tensor x = Tensor::zeros({2}, DType::F64);
  dispatch<kOnlyF64>("probe", x, [&]<typename T>(auto exec) {
    STATIC_REQUIRE(std::is_same_v<T, double>);
    STATIC_REQUIRE(std::is_same_v<decltype(exec), kernels::cpu::Exec>);
    ++calls;
  });
  CHECK(calls == 1);
  CHECK_THROWS_WITH(dispatch<kOnlyF64>("probe", Tensor::zeros({2}), [&]<typename T>(auto) { ++calls; }),
                    "probe: no CPU kernel for F32 tensors (it has F64)");
  CHECK(calls == 1);
}

TEST_CASE("bf16 on a backend without a bf16 kernel computes in f32 and rounds once", "[dispatch]") {
  Tensor x32 = testing::random_tensor({3, 5}, 1, -2, 2, DType::F32);
  Tensor x16 = to_dtype(x32, DType::BF16);
  REQUIRE(computes_in_f32<kernels::kSoftmaxDTypes>(x16));
  REQUIRE_FALSE(computes_in_f32<kernels::kSoftmaxDTypes>(x32));
  Tensor got = softmax(x16, -1);
  REQUIRE(got.dtype() == DType::BF16);
  // Exactly the f32 softmax of the same values, rounded to bf16.
  Tensor want = to_dtype(softmax(to_dtype(x16, DType::F32), -1), DType::BF16);
  CHECK(testing::max_abs_diff(got, want) == 0.0);
}

TEST_CASE("a CUDA kernel family without a dtype names CUDA in the error", "[dispatch][cuda]") {
  FF_REQUIRE_CUDA();
  Tensor p = Tensor::zeros({4}, DType::F64, Device::cuda());
  CHECK_THROWS_WITH(softmax(p, -1), "softmax: no CUDA kernel for F64 tensors (it has F32)");
}
