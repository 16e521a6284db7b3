// CUDA elementwise, reduction and view ops against the CPU implementation.
#include <catch2/catch.hpp>

#include "core/ops/ops.h"
#include "support/device_parity.h"
#include "support/gradcheck.h"
#include "support/skip.h"

using namespace ff;
using testing::random_tensor;

namespace {

void compare_devices(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs,
                     double tol = 1e-5) {
  std::vector<Tensor> f32;
  for (const Tensor& x : inputs) f32.push_back(to_dtype(x, DType::F32));
  CHECK(testing::compare_cuda_with_cpu(f, f32, tol) == "");
}

}  // namespace

TEST_CASE("CUDA elementwise ops match the CPU", "[elementwise][cuda]") {
  FF_REQUIRE_CUDA();
  Tensor a = random_tensor({37, 65}, 1, 0.5, 2.0), b = random_tensor({65}, 2, 0.5, 2.0);
  using In = std::vector<Tensor>;
  compare_devices([](const In& x) { return add(x[0], x[1]); }, {a, b});
  compare_devices([](const In& x) { return mul(transpose(x[0], 0, 1), x[1]); }, {random_tensor({65, 37}, 3), a});
  compare_devices([](const In& x) { return div(x[0], x[1]); }, {a, b});
  compare_devices([](const In& x) { return maximum(x[0], x[1]); }, {a, b});
  for (auto op : {exp, log, sqrt, tanh, sigmoid, gelu, relu, square, abs})
    compare_devices([op](const In& x) { return op(x[0]); }, {a}, 1e-4);
  Tensor mask = to_dtype(Tensor::from_vector<float>(std::vector<float>(65, 1.0f), {65}), DType::U8);
  compare_devices([mask](const In& x) { return masked_fill(x[0], to_device(mask, x[0].device()), 3.0); }, {a});
}

TEST_CASE("CUDA reductions and views match the CPU", "[reduce][cuda]") {
  FF_REQUIRE_CUDA();
  using In = std::vector<Tensor>;
  Tensor x = random_tensor({7, 33, 5, 129}, 4);
  for (std::vector<int64_t> dims : std::vector<std::vector<int64_t>>{{}, {0}, {3}, {1, 2}, {0, 3}})
    compare_devices([dims](const In& in) { return sum(in[0], dims); }, {x}, 1e-3);
  compare_devices([](const In& in) { return mean(transpose(in[0], 1, 3), {2}); }, {x}, 1e-4);
  compare_devices([](const In& in) { return concat({slice(in[0], 3, 1, 100, 3), in[0]}, 3); }, {x});
}
