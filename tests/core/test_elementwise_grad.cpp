// float64 gradient checks of the elementwise, reduction and view ops.
#include <catch2/catch.hpp>

#include "core/ops/ops.h"
#include "support/gradcheck.h"

using namespace ff;
using testing::gradcheck;
using testing::random_tensor;
using Inputs = std::vector<Tensor>;

TEST_CASE("binary ops: gradients with broadcasting and non-contiguous inputs", "[elementwise][gradcheck]") {
  Tensor a = random_tensor({3, 4}, 1, 0.5, 2.0), b = random_tensor({4}, 2, 0.5, 2.0);
  Tensor c = random_tensor({4, 3}, 3, 0.5, 2.0), d = random_tensor({3, 1}, 4, 0.5, 2.0);
  CHECK(gradcheck([](const Inputs& x) { return add(x[0], x[1]); }, {a, b}) == "");
  CHECK(gradcheck([](const Inputs& x) { return sub(x[1], x[0]); }, {a, b}) == "");
  CHECK(gradcheck([](const Inputs& x) { return mul(x[0], transpose(x[1], 0, 1)); }, {a, c}) == "");
  CHECK(gradcheck([](const Inputs& x) { return div(x[0], x[1]); }, {a, d}) == "");
  CHECK(gradcheck([](const Inputs& x) { return div(transpose(x[0], 0, 1), x[1]); }, {c, d}) == "");
  // maximum: inputs kept apart so no element sits on the kink.
  Tensor e = add(random_tensor({3, 4}, 5, 0.0, 1.0), 2.0).detach();
  CHECK(gradcheck([](const Inputs& x) { return maximum(x[0], x[1]); }, {e, random_tensor({3, 4}, 6, -1.0, 1.0)}) == "");
  CHECK(gradcheck([](const Inputs& x) { return maximum(x[0], x[1]); }, {random_tensor({3, 4}, 6, -1.0, 1.0), e}) == "");
}

// Values in [-2, -0.1] U [0.1, 2]: away from the kinks of relu and abs.
static Tensor away_from_zero(const Shape& shape, uint64_t seed) {
  std::vector<double> v = random_tensor(shape, seed, 0.1, 2.0).to_vector<double>();
  for (size_t i = 0; i < v.size(); i += 2) v[i] = -v[i];
  return Tensor::from_vector(v, shape);
}

TEST_CASE("unary ops: gradients", "[elementwise][gradcheck]") {
  Tensor pos = random_tensor({2, 5}, 7, 0.2, 2.0);
  Tensor any = random_tensor({2, 5}, 8, -2.0, 2.0);
  Tensor kinked = away_from_zero({2, 5}, 9);
  auto check = [](Tensor (*op)(const Tensor&), const Tensor& x) {
    return gradcheck([op](const Inputs& in) { return op(transpose(in[0], 0, 1)); }, {x});
  };
  CHECK(check(exp, any) == "");
  CHECK(check(log, pos) == "");
  CHECK(check(sqrt, pos) == "");
  CHECK(check(rsqrt, pos) == "");
  CHECK(check(square, any) == "");
  CHECK(check(neg, any) == "");
  CHECK(check(abs, kinked) == "");
  CHECK(check(relu, kinked) == "");
  CHECK(check(gelu, any) == "");
  CHECK(check(tanh, any) == "");
  CHECK(check(sigmoid, any) == "");
  CHECK(gradcheck([](const Inputs& x) { return pow(x[0], 3.5); }, {pos}) == "");
  CHECK(gradcheck([](const Inputs& x) { return affine(x[0], -1.5, 0.25); }, {any}) == "");
}

TEST_CASE("unary ops: forward values", "[elementwise]") {
  Tensor x = Tensor::from_vector<double>({-1.0, 0.0, 0.5, 2.0}, {4});
  std::vector<double> g = gelu(x).to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    double v = x.to_vector<double>()[i];
    CHECK(g[i] == Approx(0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))).epsilon(1e-14));
  }
  CHECK(relu(x).to_vector<double>() == std::vector<double>{0, 0, 0.5, 2});
  CHECK(sigmoid(x).to_vector<double>()[1] == 0.5);
}

TEST_CASE("where and masked_fill route gradients by the mask", "[elementwise][gradcheck]") {
  Tensor mask = Tensor::from_vector<uint8_t>({1, 0, 0, 1, 1, 0}, {2, 3});
  Tensor a = random_tensor({2, 3}, 10), b = random_tensor({3}, 11);
  CHECK(gradcheck([mask](const Inputs& x) { return where(mask, x[0], x[1]); }, {a, b}) == "");
  CHECK(gradcheck([mask](const Inputs& x) { return masked_fill(x[0], mask, -7.0); }, {a}) == "");
  std::vector<double> filled = masked_fill(a, mask, -7.0).to_vector<double>();
  CHECK(filled[0] == -7.0);
  CHECK(filled[1] == a.to_vector<double>()[1]);
}

TEST_CASE("reductions: values and gradients", "[reduce][gradcheck]") {
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(sum(x).item() == 21);
  CHECK(sum(x, {0}).to_vector<double>() == std::vector<double>{5, 7, 9});
  CHECK(sum(x, {1}, true).shape() == Shape{2, 1});
  CHECK(mean(x, {-1}).to_vector<double>() == std::vector<double>{2, 5});
  Tensor y = random_tensor({2, 3, 4, 5}, 12);
  for (std::vector<int64_t> dims : std::vector<std::vector<int64_t>>{{}, {0}, {1}, {3}, {1, 2}, {0, 3}, {0, 2}}) {
    INFO("dims " << dims.size());
    CHECK(gradcheck([dims](const Inputs& in) { return sum(in[0], dims); }, {y}) == "");
    CHECK(gradcheck([dims](const Inputs& in) { return mean(permute(in[0], {3, 1, 2, 0}), dims, true); }, {y}) == "");
  }
  CHECK(gradcheck([](const Inputs& in) { return sum_to(in[0], {3, 1, 5}); }, {y}) == "");
}

TEST_CASE("view ops: gradients", "[view][gradcheck]") {
  Tensor x = random_tensor({3, 4, 5}, 13);
  CHECK(gradcheck([](const Inputs& in) { return reshape(transpose(in[0], 0, 2), {10, 6}); }, {x}) == "");
  CHECK(gradcheck([](const Inputs& in) { return slice(in[0], 2, 1, 5, 2); }, {x}) == "");
  CHECK(gradcheck([](const Inputs& in) { return select(in[0], 1, -1); }, {x}) == "");
  CHECK(gradcheck([](const Inputs& in) { return narrow(in[0], 0, 1, 2); }, {x}) == "");
  CHECK(gradcheck([](const Inputs& in) { return expand(unsqueeze(in[0], 0), {2, 3, 4, 5}); }, {x}) == "");
  CHECK(gradcheck([](const Inputs& in) { return flatten(permute(in[0], {1, 2, 0}), 1); }, {x}) == "");
  CHECK(gradcheck([](const Inputs& in) { return contiguous(transpose(in[0], 1, 2)); }, {x}) == "");
  Tensor y = random_tensor({3, 2, 5}, 14);
  CHECK(gradcheck([](const Inputs& in) { return concat({in[0], transpose(in[1], 0, 0), in[0]}, 1); }, {x, y}) == "");
}
