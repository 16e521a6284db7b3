#include <catch2/catch.hpp>

#include "core/ops/ops.h"
#include "support/gradcheck.h"

using namespace ff;
using testing::random_tensor;

TEST_CASE("backward accumulates into leaves through shared subexpressions", "[autograd]") {
  Tensor x = Tensor::from_vector<double>({1, 2, 3}, {3}).set_requires_grad(true);
  Tensor y = mul(x, x);               // x^2
  Tensor z = sum(add(y, mul(y, x)));  // sum(x^2 + x^3)
  z.backward();
  // d/dx = 2x + 3x^2
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, 16, 33});
  // A second backward through a fresh graph adds to the existing gradient.
  sum(mul(x, 2.0)).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{7, 18, 35});
}

TEST_CASE("saved tensors are released after backward", "[autograd]") {
  Tensor x = Tensor::from_vector<double>({1, 2}, {2}).set_requires_grad(true);
  Tensor z = sum(exp(x));
  z.backward();
  CHECK_THROWS_WITH(z.backward(), Catch::Contains("second time"));
  Tensor w = sum(exp(x));
  w.backward(Tensor(), /*retain_graph=*/true);
  w.backward();  // allowed once more after retain_graph
  CHECK(x.grad().defined());
}

TEST_CASE("no-grad guard records nothing", "[autograd]") {
  Tensor x = Tensor::ones({2}, DType::F64).set_requires_grad(true);
  Tensor y;
  {
    NoGradGuard guard;
    y = mul(x, 3.0);
  }
  CHECK_FALSE(y.requires_grad());
  CHECK(mul(x, 3.0).requires_grad());
  CHECK_FALSE(mul(x.detach(), 3.0).requires_grad());
}

TEST_CASE("grad-ready hooks fire once per leaf with the finished gradient", "[autograd]") {
  Tensor a = Tensor::ones({2}, DType::F64).set_requires_grad(true);
  Tensor b = Tensor::ones({2}, DType::F64).set_requires_grad(true);
  std::vector<std::pair<char, double>> fired;
  a.add_grad_ready_hook([&](const Tensor& g) { fired.push_back({'a', g.to_vector<double>()[0]}); });
  b.add_grad_ready_hook([&](const Tensor& g) { fired.push_back({'b', g.to_vector<double>()[0]}); });
  // a is used three times, b once: a's hook must wait for all three contributions.
  Tensor loss = sum(add(add(mul(a, 2.0), mul(a, b)), mul(a, 4.0)));
  loss.backward();
  REQUIRE(fired.size() == 2);
  for (auto [name, value] : fired) CHECK(value == (name == 'a' ? 7.0 : 1.0));
}

TEST_CASE("a removed grad-ready hook no longer fires", "[autograd]") {
  Tensor a = Tensor::ones({2}, DType::F64).set_requires_grad(true);
  int first = 0, second = 0;
  const int64_t id = a.add_grad_ready_hook([&](const Tensor&) { ++first; });
  a.add_grad_ready_hook([&](const Tensor&) { ++second; });
  sum(a).backward();
  a.remove_grad_ready_hook(id);
  sum(a).backward();
  CHECK(first == 1);
  CHECK(second == 2);
}

TEST_CASE("a leaf with a gradient buffer accumulates in place into it", "[autograd]") {
  Tensor a = Tensor::from_vector<double>({1, 2}, {2}).set_requires_grad(true);
  Tensor flat = Tensor::full({3}, 9.0, DType::F64);  // stale values: the first gradient overwrites them
  Tensor slot = narrow(flat, 0, 1, 2);
  a.set_grad_buffer(slot);
  sum(mul(a, 3.0)).backward();
  CHECK(a.grad().storage() == flat.storage());
  CHECK(flat.to_vector<double>() == std::vector<double>{9, 3, 3});
  sum(mul(a, a)).backward();  // adds 2a
  CHECK(flat.to_vector<double>() == std::vector<double>{9, 5, 7});
  // Cleared (as the optimizer does): the next gradient is copied in again, not added.
  a.set_grad(Tensor());
  sum(a).backward();
  CHECK(flat.to_vector<double>() == std::vector<double>{9, 1, 1});
  CHECK_THROWS_WITH(a.set_grad_buffer(Tensor::zeros({3}, DType::F64)), Catch::Contains("does not match the leaf"));
}

TEST_CASE("non-scalar backward needs an explicit gradient", "[autograd]") {
  Tensor x = Tensor::ones({3}, DType::F64).set_requires_grad(true);
  Tensor y = mul(x, 2.0);
  CHECK_THROWS_WITH(y.backward(), Catch::Contains("scalar"));
  y.backward(Tensor::ones({3}, DType::F64));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 2, 2});
}

TEST_CASE("leaf gradients are contiguous even when the op hands back a broadcast view", "[autograd]") {
  Tensor x = Tensor::ones({1, 3}, DType::F64).set_requires_grad(true);
  sum(expand(x, {4, 3})).backward();
  CHECK(x.grad().is_contiguous());
  CHECK(x.grad().to_vector<double>() == std::vector<double>{4, 4, 4});
}

TEST_CASE("slice gradients add into windows of the input's summed gradient", "[autograd]") {
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {6}).set_requires_grad(true);
  Tensor y = mul(x, 1.0);  // not a leaf: its summed gradient is the walk's, then x's
  Tensor w0 = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {6});
  Tensor w1 = Tensor::from_vector<double>({10, 20, 30}, {3});
  Tensor w2 = Tensor::from_vector<double>({100, 200, 300}, {3});
  // A full-size contribution, an overlapping window, a strided one and a select.
  Tensor total = add(add(sum(mul(y, w0)), sum(mul(slice(y, 0, 1, 4), w1))),
                     add(sum(mul(slice(y, 0, 0, 6, 2), w2)), mul(select(y, 0, 5), 7.0)));
  total.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{101, 12, 223, 34, 305, 13});
  // Windows straight into a leaf, twice over the same rows.
  Tensor leaf = Tensor::zeros({4, 2}, DType::F64).set_requires_grad(true);
  add(sum(slice(leaf, 0, 0, 3)), sum(mul(slice(leaf, 0, 2, 4), 2.0))).backward();
  CHECK(leaf.grad().to_vector<double>() == std::vector<double>{1, 1, 1, 1, 3, 3, 2, 2});
}

TEST_CASE("a window never writes into a gradient another node handed on", "[autograd]") {
  // concat's backward hands views of the root gradient to its inputs and clone passes its view
  // on unchanged; the walk runs the clone first (the last input readied), so y's sum starts as
  // a view of the caller's tensor: adding the slice's window must not write into it.
  Tensor x = Tensor::from_vector<double>({1, 2, 3}, {3}).set_requires_grad(true);
  Tensor y = mul(x, 1.0);
  Tensor root = concat({slice(y, 0, 1, 3), clone(y)}, 0);
  Tensor g = Tensor::from_vector<double>({40, 50, 1, 2, 3}, {5});
  root.backward(g);
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 42, 53});
  CHECK(g.to_vector<double>() == std::vector<double>{40, 50, 1, 2, 3});
}
