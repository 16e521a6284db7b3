// matmul and linear: values against a naive double loop, float64 gradchecks (2-D, batched,
// broadcast batch, transposed views), CUDA against CPU, and error messages naming the shapes.

#include <catch2/catch.hpp>

#include "core/ops/linalg.h"
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

// Reference a @ b in double with numpy batch broadcasting, by a triple loop.
Tensor naive_matmul(const Tensor& a, const Tensor& b) {
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = ff::broadcast_shapes(ba, bb);
  int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  Shape sa = batch, sb = batch, sc = batch;
  sa.insert(sa.end(), {M, K});
  sb.insert(sb.end(), {K, N});
  sc.insert(sc.end(), {M, N});
  std::vector<double> va = ff::contiguous(ff::expand(a.detach(), sa)).to_vector<double>();
  std::vector<double> vb = ff::contiguous(ff::expand(b.detach(), sb)).to_vector<double>();
  std::vector<double> vc(ff::shape_numel(sc), 0.0);
  int64_t nb = ff::shape_numel(batch);
  for (int64_t i = 0; i < nb; ++i)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += va[(i * M + m) * K + k] * vb[(i * K + k) * N + n];
        vc[(i * M + m) * N + n] = acc;
      }
  return Tensor::from_vector(vc, sc);
}

Tensor naive_linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor y = naive_matmul(ff::reshape(x.detach(), {-1, x.size(-1)}), ff::transpose(w.detach(), 0, 1));
  if (b.defined()) y = ff::add(y, ff::to_dtype(b.detach(), DType::F64));
  Shape shape = x.shape();
  shape.back() = w.size(0);
  return ff::reshape(y, shape);
}

Tensor f32(const Shape& shape, uint64_t seed) { return random_tensor(shape, seed, -1, 1, DType::F32); }

// Transposes the last two dims of a contiguous tensor made with the transposed shape.
Tensor transposed_view(const Shape& shape, uint64_t seed, DType dtype = DType::F32) {
  Shape stored = shape;
  std::swap(stored[stored.size() - 1], stored[stored.size() - 2]);
  return ff::transpose(random_tensor(stored, seed, -1, 1, dtype), -1, -2);
}

}  // namespace

TEST_CASE("matmul forward matches a naive loop", "[linalg]") {
  struct Case {
    const char* name;
    Tensor a, b;
  };
  std::vector<Case> cases = {
      {"2-D", f32({5, 7}, 1), f32({7, 3}, 2)},
      {"batched", f32({4, 5, 7}, 3), f32({4, 7, 3}, 4)},
      {"batched @ 2-D (folded)", f32({2, 3, 5, 7}, 5), f32({7, 6}, 6)},
      {"2-D @ batched", f32({5, 7}, 7), f32({3, 7, 6}, 8)},
      {"broadcast batch", f32({2, 1, 5, 7}, 9), f32({1, 3, 7, 4}, 10)},
      {"a transposed", transposed_view({5, 7}, 11), f32({7, 3}, 12)},
      {"b transposed", f32({5, 7}, 13), transposed_view({7, 3}, 14)},
      {"both transposed, batched", transposed_view({3, 5, 7}, 15), transposed_view({3, 7, 4}, 16)},
      {"b transposed, 2-D, batched a", f32({2, 5, 7}, 17), transposed_view({7, 6}, 18)},
      {"strided column slice (packed)", ff::slice(f32({5, 14}, 19), 1, 0, 14, 2), f32({7, 3}, 20)},
      {"row slice (ld > cols)", ff::slice(f32({5, 9}, 21), 1, 1, 8), f32({7, 3}, 22)},
      {"single row and column", f32({3, 1, 7}, 23), f32({3, 7, 1}, 24)},
      {"batch permuted (loop)", ff::permute(f32({5, 3, 7}, 25), {1, 0, 2}), f32({3, 7, 2}, 26)},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      Tensor got = ff::matmul(c.a, c.b);
      Tensor want = naive_matmul(c.a, c.b);
      REQUIRE(got.shape() == want.shape());
      CHECK(got.is_contiguous());
      CHECK(max_abs_diff(got, want) < 1e-5);
    }
  }
}

TEST_CASE("matmul forward: batched operands with different transpose flags, known values", "[linalg]") {
  // Stored (2, 2, 2) batches; a transpose() view swaps the last two dims without a copy.
  const Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 1, 0, 2, 1}, {2, 2, 2});
  const Tensor b = Tensor::from_vector<float>({5, 6, 7, 8, 1, 1, 0, 2}, {2, 2, 2});
  // [[1,3],[2,4]] @ [[5,6],[7,8]] and [[1,2],[0,1]] @ [[1,1],[0,2]].
  CHECK(ff::matmul(ff::transpose(a, -1, -2), b).to_vector<float>() ==
        std::vector<float>{26, 30, 38, 44, 1, 5, 0, 2});
  // [[1,2],[3,4]] @ [[5,7],[6,8]] and [[1,0],[2,1]] @ [[1,0],[1,2]].
  CHECK(ff::matmul(a, ff::transpose(b, -1, -2)).to_vector<float>() ==
        std::vector<float>{17, 23, 39, 53, 1, 0, 3, 2});
}

TEST_CASE("matmul forward: batched operands with different transpose flags match a naive loop", "[linalg]") {
  // Small integers: every product and sum is exact in float32, so the results must be equal.
  auto ints = [](const Shape& shape, uint64_t seed) {
    std::vector<float> v(ff::shape_numel(shape));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(static_cast<int64_t>((i * 7 + seed * 13) % 11) - 5);
    return Tensor::from_vector(v, shape);
  };
  auto t = [](const Tensor& x) { return ff::transpose(x, -1, -2); };
  struct Case {
    const char* name;
    Tensor a, b;
  };
  std::vector<Case> cases = {
      {"a^T @ b, batched", t(ints({3, 7, 5}, 1)), ints({3, 7, 4}, 2)},
      {"a @ b^T, batched", ints({3, 5, 7}, 3), t(ints({3, 4, 7}, 4))},
      {"a^T @ b, broadcast batch", t(ints({2, 1, 7, 5}, 5)), ints({1, 3, 7, 4}, 6)},
      {"a @ b^T, broadcast batch", ints({2, 1, 5, 7}, 7), t(ints({1, 3, 4, 7}, 8))},
      {"a^T @ b, partially broadcast batch", t(ints({2, 3, 7, 5}, 9)), ints({3, 7, 4}, 10)},
      {"a @ b^T, partially broadcast batch", ints({3, 5, 7}, 11), t(ints({2, 3, 4, 7}, 12))},
      {"a^T batched @ b 2-D", t(ints({3, 7, 5}, 13)), ints({7, 4}, 14)},
      {"a 2-D @ b^T batched", ints({5, 7}, 15), t(ints({3, 4, 7}, 16))},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      Tensor got = ff::matmul(c.a, c.b);
      Tensor want = naive_matmul(c.a, c.b);
      REQUIRE(got.shape() == want.shape());
      CHECK(max_abs_diff(got, want) == 0.0);
    }
  }
}

TEST_CASE("matmul of empty products", "[linalg]") {
  Tensor a = Tensor::zeros({2, 3, 0}), b = Tensor::zeros({0, 4});
  Tensor c = ff::matmul(a, b);
  REQUIRE(c.shape() == Shape{2, 3, 4});
  for (float v : c.to_vector<float>()) CHECK(v == 0.0f);
  CHECK(ff::matmul(Tensor::zeros({0, 3}), Tensor::zeros({3, 2})).shape() == Shape{0, 2});
}

TEST_CASE("matmul gradients (float64)", "[linalg]") {
  auto mm = [](const std::vector<Tensor>& in) { return ff::matmul(in[0], in[1]); };
  auto rnd = [](const Shape& s, uint64_t seed) { return random_tensor(s, seed); };
  SECTION("2-D") { CHECK(gradcheck(mm, {rnd({4, 5}, 1), rnd({5, 3}, 2)}) == ""); }
  SECTION("batched") { CHECK(gradcheck(mm, {rnd({2, 4, 5}, 3), rnd({2, 5, 3}, 4)}) == ""); }
  SECTION("batched @ 2-D") { CHECK(gradcheck(mm, {rnd({2, 3, 4, 5}, 5), rnd({5, 3}, 6)}) == ""); }
  SECTION("2-D @ batched") { CHECK(gradcheck(mm, {rnd({4, 5}, 7), rnd({3, 5, 2}, 8)}) == ""); }
  SECTION("broadcast batch") { CHECK(gradcheck(mm, {rnd({2, 1, 3, 4}, 9), rnd({1, 3, 4, 2}, 10)}) == ""); }
  SECTION("partially broadcast batch") { CHECK(gradcheck(mm, {rnd({2, 3, 3, 4}, 11), rnd({3, 4, 2}, 12)}) == ""); }
  SECTION("transposed operand views") {
    auto f = [](const std::vector<Tensor>& in) {
      return ff::matmul(ff::transpose(in[0], -1, -2), ff::transpose(in[1], -1, -2));
    };
    CHECK(gradcheck(f, {rnd({2, 5, 4}, 13), rnd({2, 3, 5}, 14)}) == "");
    auto g = [](const std::vector<Tensor>& in) { return ff::matmul(in[0], ff::transpose(in[1], 0, 1)); };
    CHECK(gradcheck(g, {rnd({2, 4, 5}, 15), rnd({3, 5}, 16)}) == "");
  }
}

TEST_CASE("matmul reports mismatched shapes", "[linalg]") {
  CHECK_THROWS_WITH(ff::matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})),
                    Contains("[2, 3]") && Contains("[4, 5]"));
  CHECK_THROWS_WITH(ff::matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({5, 4, 2})),
                    Contains("[2, 3, 4]") && Contains("[5, 4, 2]"));
  CHECK_THROWS_WITH(ff::matmul(Tensor::zeros({3}), Tensor::zeros({3, 2})), Contains("[3]"));
  CHECK_THROWS_AS(ff::matmul(Tensor::zeros({2, 3}), Tensor::zeros({3, 2}, DType::F64)), ff::Error);
}

TEST_CASE("linear forward matches a naive loop", "[linalg]") {
  Tensor w = f32({6, 5}, 30), b = f32({6}, 31);
  SECTION("2-D with bias") { CHECK(max_abs_diff(ff::linear(f32({4, 5}, 32), w, b), naive_linear(f32({4, 5}, 32), w, b)) < 1e-5); }
  SECTION("3-D without bias") {
    Tensor x = f32({2, 3, 5}, 33);
    Tensor y = ff::linear(x, w);
    REQUIRE(y.shape() == Shape{2, 3, 6});
    CHECK(max_abs_diff(y, naive_linear(x, w, Tensor())) < 1e-5);
  }
  SECTION("non-contiguous input") {
    Tensor x = ff::transpose(f32({3, 2, 5}, 34), 0, 1);  // (2, 3, 5), rows do not collapse
    CHECK(max_abs_diff(ff::linear(x, w, b), naive_linear(x, w, b)) < 1e-5);
    Tensor xs = ff::slice(f32({4, 10}, 35), 1, 0, 10, 2);  // (4, 5) with column stride 2
    CHECK(max_abs_diff(ff::linear(xs, w, b), naive_linear(xs, w, b)) < 1e-5);
  }
  SECTION("1-D input") {
    Tensor x = f32({5}, 36);
    Tensor y = ff::linear(x, w, b);
    REQUIRE(y.shape() == Shape{6});
    CHECK(max_abs_diff(y, naive_linear(x, w, b)) < 1e-5);
  }
}

TEST_CASE("linear gradients (float64)", "[linalg]") {
  auto rnd = [](const Shape& s, uint64_t seed) { return random_tensor(s, seed); };
  SECTION("with bias, 3-D input") {
    auto f = [](const std::vector<Tensor>& in) { return ff::linear(in[0], in[1], in[2]); };
    CHECK(gradcheck(f, {rnd({2, 3, 4}, 1), rnd({5, 4}, 2), rnd({5}, 3)}) == "");
  }
  SECTION("without bias, 2-D input") {
    auto f = [](const std::vector<Tensor>& in) { return ff::linear(in[0], in[1]); };
    CHECK(gradcheck(f, {rnd({3, 4}, 4), rnd({5, 4}, 5)}) == "");
  }
  SECTION("non-contiguous input") {
    auto f = [](const std::vector<Tensor>& in) { return ff::linear(ff::transpose(in[0], 0, 1), in[1], in[2]); };
    CHECK(gradcheck(f, {rnd({3, 2, 4}, 6), rnd({5, 4}, 7), rnd({5}, 8)}) == "");
  }
}

TEST_CASE("linear with a fused ReLU equals relu(linear): values and gradients, exactly", "[linalg]") {
  // Inputs with many negative pre-activations, and exact zeros (a zero row of x with a zero bias
  // entry) where relu's mask is decided at 0 itself.
  Tensor x = f32({6, 9}, 40), w = f32({7, 9}, 41), b = f32({7}, 42);
  {
    float* xs = x.data<float>();
    for (int64_t c = 0; c < 9; ++c) xs[2 * 9 + c] = 0.0f;
    b.data<float>()[3] = 0.0f;
  }
  auto grads = [&](bool fused) {
    Tensor xl = x.detach().set_requires_grad(true), wl = w.detach().set_requires_grad(true),
           bl = b.detach().set_requires_grad(true);
    Tensor y = fused ? ff::linear(xl, wl, bl, ff::Activation::ReLU) : ff::relu(ff::linear(xl, wl, bl));
    ff::sum(ff::mul(y, random_tensor(y.shape(), 43, -1, 1, DType::F32))).backward();
    return std::vector<std::vector<float>>{y.to_vector<float>(), xl.grad().to_vector<float>(),
                                           wl.grad().to_vector<float>(), bl.grad().to_vector<float>()};
  };
  const auto fused = grads(true), plain = grads(false);
  CHECK(fused == plain);
  const auto& y = fused[0];
  CHECK(std::count(y.begin(), y.end(), 0.0f) > 10);  // the mask matters in this case
  CHECK(y[2 * 7 + 3] == 0.0f);                         // the exact-zero pre-activation
  auto f = [](const std::vector<Tensor>& in) { return ff::linear(in[0], in[1], in[2], ff::Activation::ReLU); };
  CHECK(gradcheck(f, {random_tensor({2, 3, 4}, 44), random_tensor({5, 4}, 45), random_tensor({5}, 46)}) == "");
  auto f_nb = [](const std::vector<Tensor>& in) { return ff::linear(ff::transpose(in[0], 0, 1), in[1], Tensor(), ff::Activation::ReLU); };
  CHECK(gradcheck(f_nb, {random_tensor({3, 2, 4}, 47), random_tensor({5, 4}, 48)}) == "");
}

TEST_CASE("linear reports mismatched shapes", "[linalg]") {
  CHECK_THROWS_WITH(ff::linear(Tensor::zeros({2, 3, 4}), Tensor::zeros({5, 6})),
                    Contains("[2, 3, 4]") && Contains("[5, 6]"));
  CHECK_THROWS_WITH(ff::linear(Tensor::zeros({2, 4}), Tensor::zeros({5, 4}), Tensor::zeros({6})),
                    Contains("[6]") && Contains("[5, 4]"));
}

TEST_CASE("CUDA matmul and linear match the CPU, forward and backward", "[linalg][cuda]") {
  FF_REQUIRE_CUDA();
  const Device gpu = Device::cuda(0);
  auto compare = [&](const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs) {
    std::vector<Tensor> cpu_in, gpu_in;
    for (const Tensor& x : inputs) {
      cpu_in.push_back(x.detach().set_requires_grad(true));
      gpu_in.push_back(ff::to_device(x.detach(), gpu).set_requires_grad(true));
    }
    Tensor yc = f(cpu_in), yg = f(gpu_in);
    REQUIRE(yg.device() == gpu);
    CHECK(max_abs_diff(yc, yg) < 1e-4);
    Tensor w = random_tensor(yc.shape(), 99, -1, 1, DType::F32);
    ff::sum(ff::mul(yc, w)).backward();
    ff::sum(ff::mul(yg, ff::to_device(w, gpu))).backward();
    for (size_t i = 0; i < inputs.size(); ++i) {
      INFO("input " << i);
      REQUIRE(gpu_in[i].grad().defined());
      CHECK(max_abs_diff(cpu_in[i].grad(), gpu_in[i].grad()) < 1e-4);
    }
  };
  auto mm = [](const std::vector<Tensor>& in) { return ff::matmul(in[0], in[1]); };
  auto mm_t = [](const std::vector<Tensor>& in) {
    return ff::matmul(ff::transpose(in[0], -1, -2), ff::transpose(in[1], -1, -2));
  };
  auto lin = [](const std::vector<Tensor>& in) { return ff::linear(in[0], in[1], in[2]); };
  auto lin_nb = [](const std::vector<Tensor>& in) { return ff::linear(in[0], in[1]); };
  SECTION("2-D") { compare(mm, {f32({33, 17}, 1), f32({17, 9}, 2)}); }
  SECTION("batched") { compare(mm, {f32({3, 33, 17}, 3), f32({3, 17, 9}, 4)}); }
  SECTION("batched @ 2-D") { compare(mm, {f32({2, 3, 33, 17}, 5), f32({17, 9}, 6)}); }
  SECTION("2-D @ batched") { compare(mm, {f32({33, 17}, 7), f32({4, 17, 9}, 8)}); }
  SECTION("broadcast batch") { compare(mm, {f32({2, 1, 8, 17}, 9), f32({1, 3, 17, 5}, 10)}); }
  SECTION("transposed views") { compare(mm_t, {f32({2, 17, 33}, 11), f32({2, 9, 17}, 12)}); }
  SECTION("linear with bias") { compare(lin, {f32({2, 7, 33}, 13), f32({20, 33}, 14), f32({20}, 15)}); }
  SECTION("linear without bias") { compare(lin_nb, {f32({7, 33}, 16), f32({20, 33}, 17)}); }
  auto lin_relu = [](const std::vector<Tensor>& in) { return ff::linear(in[0], in[1], in[2], ff::Activation::ReLU); };
  auto lin_relu_nb = [](const std::vector<Tensor>& in) { return ff::linear(in[0], in[1], Tensor(), ff::Activation::ReLU); };
  SECTION("linear with ReLU (cuBLASLt's RELU_BIAS epilogue)") {
    compare(lin_relu, {f32({2, 7, 33}, 20), f32({20, 33}, 21), f32({20}, 22)});
  }
  SECTION("linear with ReLU, no bias (RELU epilogue)") { compare(lin_relu_nb, {f32({7, 33}, 23), f32({20, 33}, 24)}); }
  SECTION("float64") {
    Tensor a = random_tensor({6, 5}, 18), b = random_tensor({2, 5, 4}, 19);
    Tensor got = ff::matmul(ff::to_device(a, gpu), ff::to_device(b, gpu));
    CHECK(max_abs_diff(got, ff::matmul(a, b)) < 1e-12);
  }
}
