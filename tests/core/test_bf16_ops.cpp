// Every op's bf16 path against its f64 result on the same values.
//
// Inputs are drawn in f64 and rounded to bf16 first, so both runs see identical numbers and
// the difference is the op's own error: a bf16 result is an f32 computation rounded once to
// 8 significant bits (relative error <= 2^-9), and an op may round a few intermediates (a
// bf16 kernel rounds every elementwise result; the f32 fallback rounds its result once). We
// allow 2^-7 relative (four roundings) plus, for gradients, 2^-7 of the largest magnitude:
// a backward that reads a saved bf16 output (tanh, sigmoid, div, exp) amplifies its rounding
// where the derivative is small. Accumulating a sum in bf16 instead of f32, or a wrong
// formula, is far outside these bounds (the sums below have 20 to 60 terms).

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "support/gradcheck.h"

using namespace ff;
using testing::random_tensor;

namespace {

constexpr double kRel = 1.0 / 128;         // 2^-7: four bf16 roundings
constexpr double kOutputAbs = 1e-5;        // of max |output|: f32 arithmetic inside the op
constexpr double kGradientAbs = 1.0 / 128;  // of max |gradient|: saved bf16 values

Tensor bf16_representable(const Tensor& x) {
  return is_floating(x.dtype()) ? to_dtype(to_dtype(x, DType::BF16), DType::F64) : x;
}

// "" when |got - want| <= kRel |want| + abs_frac max|want| everywhere.
std::string compare(const char* what, const Tensor& got, const Tensor& want, double abs_frac) {
  if (got.dtype() != DType::BF16) return fmt::format("{} is {}, not bf16", what, got.str());
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  double max_want = 0;
  for (double v : w) max_want = std::max(max_want, std::fabs(v));
  for (size_t i = 0; i < w.size(); ++i) {
    const double tol = kRel * std::fabs(w[i]) + abs_frac * max_want;
    if (!(std::fabs(g[i] - w[i]) <= tol))
      return fmt::format("{} element {}: bf16 {} vs f64 {} (tolerance {})", what, i, g[i], w[i], tol);
  }
  return "";
}

// Runs f on f64 and on bf16 leaves holding the same values; compares the outputs and the
// gradients of sum(f(inputs) * w) for a fixed w (bf16-representable, so both runs start the
// backward from the same numbers). Integer inputs (ids, masks) are passed as they are.
std::string check_bf16(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs) {
  for (Tensor& x : inputs) x = bf16_representable(x);
  auto run = [&](DType dtype, std::vector<Tensor>& leaves) {
    leaves.clear();
    for (const Tensor& x : inputs) {
      Tensor leaf = is_floating(x.dtype()) ? to_dtype(x, dtype).detach() : x;
      if (is_floating(leaf.dtype())) leaf.set_requires_grad(true);
      leaves.push_back(leaf);
    }
    Tensor y = f(leaves);
    Tensor w = to_dtype(bf16_representable(random_tensor(y.shape(), 4242)), y.dtype());
    if (y.requires_grad()) sum(mul(y, w)).backward();
    return y;
  };
  std::vector<Tensor> wide, narrow;
  const Tensor want = run(DType::F64, wide);
  const Tensor got = run(DType::BF16, narrow);
  if (std::string e = compare("output", got, want, kOutputAbs); !e.empty()) return e;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!is_floating(inputs[i].dtype())) continue;
    if (narrow[i].grad().defined() != wide[i].grad().defined())
      return fmt::format("input {}: a gradient in one run only", i);
    if (!wide[i].grad().defined()) continue;  // an input the op does not differentiate (soft targets)
    if (std::string e = compare(fmt::format("gradient of input {}", i).c_str(), narrow[i].grad(), wide[i].grad(),
                                kGradientAbs);
        !e.empty())
      return e;
  }
  return "";
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
Tensor x_in(const Shape& s, uint64_t seed) { return random_tensor(s, seed, -1.0, 1.0); }
Tensor positive(const Shape& s, uint64_t seed) { return random_tensor(s, seed, 0.5, 2.0); }

}  // namespace

TEST_CASE("bf16 elementwise ops match f64", "[bf16]") {
  const Shape s{4, 5};
  const std::vector<std::pair<const char*, Fn>> unary = {
      {"neg", [](const auto& x) { return neg(x[0]); }},
      {"exp", [](const auto& x) { return exp(x[0]); }},
      {"square", [](const auto& x) { return square(x[0]); }},
      {"abs", [](const auto& x) { return abs(x[0]); }},
      {"relu", [](const auto& x) { return relu(x[0]); }},
      {"gelu", [](const auto& x) { return gelu(x[0]); }},
      {"tanh", [](const auto& x) { return tanh(x[0]); }},
      {"sigmoid", [](const auto& x) { return sigmoid(x[0]); }},
      {"affine", [](const auto& x) { return affine(x[0], 1.5, -0.25); }},
  };
  for (const auto& [name, f] : unary) {
    INFO(name);
    CHECK(check_bf16(f, {x_in(s, 1)}) == "");
  }
  const std::vector<std::pair<const char*, Fn>> on_positive = {
      {"log", [](const auto& x) { return log(x[0]); }},
      {"sqrt", [](const auto& x) { return sqrt(x[0]); }},
      {"rsqrt", [](const auto& x) { return rsqrt(x[0]); }},
      {"pow", [](const auto& x) { return pow(x[0], 1.5); }},
  };
  for (const auto& [name, f] : on_positive) {
    INFO(name);
    CHECK(check_bf16(f, {positive(s, 2)}) == "");
  }
  const std::vector<std::pair<const char*, Fn>> binary = {
      {"add", [](const auto& x) { return add(x[0], x[1]); }},
      {"sub", [](const auto& x) { return sub(x[0], x[1]); }},
      {"mul", [](const auto& x) { return mul(x[0], x[1]); }},
      {"div", [](const auto& x) { return div(x[0], x[1]); }},
      {"maximum", [](const auto& x) { return maximum(x[0], x[1]); }},
  };
  for (const auto& [name, f] : binary) {
    INFO(name);
    CHECK(check_bf16(f, {x_in(s, 3), positive(s, 4)}) == "");
    CHECK(check_bf16(f, {x_in({3, 4, 5}, 5), positive({5}, 6)}) == "");  // broadcast: the gradient is a sum
  }
  Tensor mask = Tensor::from_vector<uint8_t>({1, 0, 0, 1, 1}, {5});
  CHECK(check_bf16([&](const auto& x) { return where(mask, x[0], x[1]); }, {x_in(s, 7), x_in(s, 8)}) == "");
  CHECK(check_bf16([&](const auto& x) { return masked_fill(x[0], mask, -2.5); }, {x_in(s, 9)}) == "");
}

TEST_CASE("bf16 reductions, softmax, layer_norm and losses match f64", "[bf16]") {
  CHECK(check_bf16([](const auto& x) { return sum(x[0], {1}); }, {x_in({3, 60}, 10)}) == "");
  CHECK(check_bf16([](const auto& x) { return sum(x[0], {0}); }, {x_in({40, 3}, 11)}) == "");
  CHECK(check_bf16([](const auto& x) { return mean(x[0]); }, {x_in({5, 6}, 12)}) == "");
  CHECK(check_bf16([](const auto& x) { return softmax(x[0], -1); }, {x_in({4, 7}, 13)}) == "");
  CHECK(check_bf16([](const auto& x) { return log_softmax(x[0], 0); }, {x_in({4, 7}, 14)}) == "");
  CHECK(check_bf16([](const auto& x) { return layer_norm(x[0], x[1], x[2], 1e-5); },
                   {x_in({6, 8}, 15), positive({8}, 16), x_in({8}, 17)}) == "");
  Tensor ids = Tensor::from_vector<int64_t>({0, 4, 2, -100, 1, 3}, {6});
  CrossEntropyOptions smoothed{.label_smoothing = 0.1};
  CHECK(check_bf16([&](const auto& x) { return cross_entropy(x[0], ids, smoothed); }, {x_in({6, 5}, 18)}) == "");
  CHECK(check_bf16([&](const auto& x) { return cross_entropy(x[0], softmax(x[1], -1)); },
                   {x_in({6, 5}, 19), x_in({6, 5}, 20)}) == "");
  CHECK(check_bf16([&](const auto& x) { return nll_loss(log_softmax(x[0], -1), ids); }, {x_in({6, 5}, 21)}) == "");
}

TEST_CASE("bf16 matmul, linear, embedding, conv2d_patch and attention match f64", "[bf16]") {
  CHECK(check_bf16([](const auto& x) { return matmul(x[0], x[1]); }, {x_in({2, 3, 20}, 22), x_in({20, 5}, 23)}) ==
        "");
  CHECK(check_bf16([](const auto& x) { return matmul(transpose(x[0], -1, -2), x[1]); },
                   {x_in({2, 20, 3}, 24), x_in({2, 20, 5}, 25)}) == "");
  CHECK(check_bf16([](const auto& x) { return linear(x[0], x[1], x[2]); },
                   {x_in({3, 24}, 26), x_in({5, 24}, 27), x_in({5}, 28)}) == "");
  CHECK(check_bf16([](const auto& x) { return linear(x[0], x[1], x[2], Activation::ReLU); },
                   {x_in({3, 24}, 26), x_in({5, 24}, 27), x_in({5}, 28)}) == "");
  Tensor ids = Tensor::from_vector<int32_t>({3, 0, 3, 6, 1}, {5});
  CHECK(check_bf16([&](const auto& x) { return embedding(x[0], ids); }, {x_in({7, 4}, 29)}) == "");
  CHECK(check_bf16([](const auto& x) { return conv2d_patch(x[0], x[1], x[2], 2); },
                   {x_in({2, 3, 4, 4}, 30), x_in({4, 3, 2, 2}, 31), x_in({4}, 32)}) == "");
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    AttentionOptions dot{.score = kernels::AttentionScore::Dot, .causal = causal};
    CHECK(check_bf16([&](const auto& x) { return attention(x[0], x[1], x[2], dot); },
                     {x_in({1, 2, 5, 8}, 33), x_in({1, 2, 5, 8}, 34), x_in({1, 2, 5, 8}, 35)}) == "");
    CHECK(check_bf16(
              [&](const auto& x) {
                AttentionOptions fourier{.score = kernels::AttentionScore::Fourier, .causal = causal, .R = x[3]};
                return attention(x[0], x[1], x[2], fourier);
              },
              // The LM's query/key scale (DESIGN.md): R (q - k) near 1.
              {random_tensor({1, 2, 5, 8}, 36, -0.3, 0.3), random_tensor({1, 2, 5, 8}, 37, -0.3, 0.3),
               x_in({1, 2, 5, 8}, 38),
               Tensor::from_vector<double>({2.0}, {1})}) == "");
  }
}

TEST_CASE("bf16 fourier features and linear attention match f64", "[bf16]") {
  CHECK(check_bf16([](const auto& x) { return fourier_features(x[0]); }, {x_in({3, 4, 6}, 40)}) == "");
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    LinearAttentionOptions o{.causal = causal};
    // Positive features: kernel sums far from the floor.
    CHECK(check_bf16([&](const auto& x) { return linear_attention(x[0], x[1], x[2], o); },
                     {random_tensor({1, 2, 5, 6}, 41, 0.1, 1.0), random_tensor({1, 2, 7, 6}, 42, 0.1, 1.0),
                      x_in({1, 2, 7, 4}, 43)}) == "");
  }
}

TEST_CASE("bf16 dropout draws the f32 masks, views and copies are exact", "[bf16]") {
  CHECK(check_bf16(
            [](const auto& x) {
              Generator gen(7);
              return dropout(x[0], 0.3, true, gen);
            },
            {x_in({6, 9}, 39)}) == "");
  CHECK(check_bf16(
            [](const auto& x) {
              Generator gen(8);
              return drop_path(x[0], 0.5, true, gen);
            },
            {x_in({6, 3, 2}, 40)}) == "");
  CHECK(check_bf16(
            [](const auto& x) {
              return concat({reshape(transpose(x[0], 0, 1), {-1}), slice(x[1], 0, 1, 4, 2)}, 0);
            },
            {x_in({3, 4}, 41), x_in({5}, 42)}) == "");
}

TEST_CASE("autocast: GEMMs in bf16, precision-sensitive ops in f32, gradients in the inputs' dtypes", "[bf16]") {
  Tensor x = random_tensor({3, 8}, 43, -1, 1, DType::F32).set_requires_grad(true);
  Tensor w = random_tensor({4, 8}, 44, -1, 1, DType::F32).set_requires_grad(true);
  Tensor b = random_tensor({4}, 45, -1, 1, DType::F32).set_requires_grad(true);
  Tensor ln_w = Tensor::ones({4}).set_requires_grad(true);
  Tensor loss;
  {
    AutocastGuard autocast(DType::BF16);
    Tensor y = linear(x, w, b);
    CHECK(y.dtype() == DType::BF16);
    Tensor h = relu(y);
    CHECK(h.dtype() == DType::BF16);  // elementwise ops keep their input's dtype
    Tensor n = layer_norm(h, ln_w, Tensor(), 1e-5);
    CHECK(n.dtype() == DType::F32);
    CHECK(add(n, h).dtype() == DType::F32);  // mixed operands promote to the wider dtype
    CHECK(softmax(h, -1).dtype() == DType::F32);
    CHECK(sum(h).dtype() == DType::F32);
    loss = mean(square(add(n, h)));
    CHECK(loss.dtype() == DType::F32);
  }
  loss.backward();
  for (const Tensor* p : {&x, &w, &b, &ln_w}) {
    REQUIRE(p->grad().defined());
    CHECK(p->grad().dtype() == DType::F32);
  }
  // The same computation in f32: the bf16 run's gradients agree to bf16 precision.
  Tensor x32 = x.detach().set_requires_grad(true), w32 = w.detach().set_requires_grad(true);
  Tensor b32 = b.detach().set_requires_grad(true), lw32 = ln_w.detach().set_requires_grad(true);
  Tensor h32 = relu(linear(x32, w32, b32));
  mean(square(add(layer_norm(h32, lw32, Tensor(), 1e-5), h32))).backward();
  CHECK(testing::max_abs_diff(w.grad(), w32.grad()) < 0.05 * std::sqrt(sum(square(w32.grad())).item()));
  // Outside the guard nothing is cast.
  CHECK(linear(x, w, b).dtype() == DType::F32);
}

TEST_CASE("concat of bf16 and f32 meets in f32, and each gradient comes back in its input's dtype", "[bf16]") {
  Tensor a = to_dtype(random_tensor({2, 3}, 40, -1, 1, DType::F32), DType::BF16).detach().set_requires_grad(true);
  Tensor b = random_tensor({1, 3}, 41, -1, 1, DType::F32).detach().set_requires_grad(true);
  Tensor y = concat({a, b}, 0);
  CHECK(y.dtype() == DType::F32);
  CHECK(y.shape() == Shape{3, 3});
  CHECK(to_dtype(slice(y, 0, 0, 2), DType::BF16).to_vector<float>() == a.to_vector<float>());  // exact widening
  sum(mul(y, 2.0)).backward();
  CHECK(a.grad().dtype() == DType::BF16);
  CHECK(b.grad().dtype() == DType::F32);
  CHECK(a.grad().to_vector<float>() == std::vector<float>(6, 2.0f));
  CHECK(b.grad().to_vector<float>() == std::vector<float>(3, 2.0f));
}
