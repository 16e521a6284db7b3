// Module tree: parameter names and order (checkpoint keys), train/eval propagation, device
// moves; the layer modules against direct computations; initialisers.

#include <catch2/catch.hpp>

#include <cmath>

#include "core/nn/nn.h"
#include "core/ops/ops.h"
#include "core/ops/linalg.h"
#include "support/gradcheck.h"
#include "support/skip.h"

using namespace ff;
using namespace ff::nn;

namespace {

// A transformer-like block: an own parameter, an "attn" submodule and an "mlp" Sequential.
struct Attn : UnaryModule {
  explicit Attn(Generator& gen) {
    q = register_module("q", std::make_shared<Linear>(4, 4, gen));
    k = register_module("k", std::make_shared<Linear>(4, 4, gen, /*bias=*/false));
    register_parameter("R", R = Tensor::full({1}, 2.0));
  }
  Tensor forward(const Tensor& x) override { return add(q->forward(x), k->forward(x)) * R; }
  std::shared_ptr<Linear> q, k;
  Tensor R;
};

struct Block : UnaryModule {
  explicit Block(Generator& gen) {
    register_parameter("gamma", gamma = Tensor::ones({4}));
    register_buffer("mask", mask = Tensor::zeros({2, 2}));
    attn = register_module("attn", std::make_shared<Attn>(gen));
    mlp = register_module("mlp", std::make_shared<Sequential>(std::vector<std::shared_ptr<UnaryModule>>{
                                     std::make_shared<Linear>(4, 8, gen), std::make_shared<Lambda>(gelu),
                                     std::make_shared<Dropout>(0.1, gen), std::make_shared<Linear>(8, 4, gen)}));
    drop = register_module("drop", std::make_shared<DropPath>(0.1, gen));
  }
  Tensor forward(const Tensor& x) override { return add(x, drop->forward(mlp->forward(attn->forward(x)) * gamma)); }
  Tensor gamma, mask;
  std::shared_ptr<Attn> attn;
  std::shared_ptr<Sequential> mlp;
  std::shared_ptr<DropPath> drop;
};

struct Model : UnaryModule {
  explicit Model(Generator& gen) {
    layers = register_module("layers", std::make_shared<Sequential>());
    layers->add(std::make_shared<Block>(gen)).add(std::make_shared<Block>(gen));
    norm = register_module("norm", std::make_shared<LayerNorm>(4));
  }
  Tensor forward(const Tensor& x) override { return norm->forward(layers->forward(x)); }
  std::shared_ptr<Sequential> layers;
  std::shared_ptr<LayerNorm> norm;
};

std::vector<std::string> names_of(const NamedTensors& named) {
  std::vector<std::string> out;
  for (const auto& entry : named) out.push_back(entry.first);
  return out;
}

void for_each_module(Module& m, const std::function<void(Module&)>& fn) {
  fn(m);
  for (auto& [name, child] : m.children()) for_each_module(*child, fn);
}

}  // namespace

TEST_CASE("named_parameters gives dotted names in registration order, own tensors first", "[nn]") {
  Generator gen(1);
  Model model(gen);
  std::vector<std::string> block_names = {"gamma",          "attn.R",         "attn.q.weight", "attn.q.bias",
                                          "attn.k.weight",  "mlp.0.weight",   "mlp.0.bias",    "mlp.3.weight",
                                          "mlp.3.bias"};
  std::vector<std::string> want;
  for (const char* layer : {"layers.0.", "layers.1."})
    for (const auto& n : block_names) want.push_back(layer + n);
  want.push_back("norm.weight");
  want.push_back("norm.bias");
  REQUIRE(names_of(model.named_parameters()) == want);
  REQUIRE(names_of(model.named_buffers()) == std::vector<std::string>{"layers.0.mask", "layers.1.mask"});

  const int64_t per_block = 4 + 1 + (16 + 4) + 16 + (32 + 8) + (32 + 4);
  REQUIRE(model.num_parameters() == 2 * per_block + 8);
  auto params = model.parameters();
  REQUIRE(params.size() == want.size());
  for (const Tensor& p : params) {
    REQUIRE(p.requires_grad());
    REQUIRE(p.is_leaf());
  }
  // The list holds the members themselves (same storage), not copies.
  REQUIRE(params[2].storage() == std::dynamic_pointer_cast<Block>((*model.layers)[0])->attn->q->weight.storage());
  for (const auto& [name, b] : model.named_buffers()) REQUIRE_FALSE(b.requires_grad());
}

TEST_CASE("Registering a name twice or a dotted name is an error", "[nn]") {
  struct Bad : Module {
    explicit Bad(int which) {
      register_parameter("w", w = Tensor::zeros({1}));
      if (which == 0) register_buffer("w", b = Tensor::zeros({1}));
      if (which == 1) register_parameter("a.b", b = Tensor::zeros({1}));
    }
    Tensor w, b;
  };
  REQUIRE_THROWS_AS(Bad(0), Error);
  REQUIRE_THROWS_AS(Bad(1), Error);
  REQUIRE_NOTHROW(Bad(2));
}

TEST_CASE("train and eval reach every submodule", "[nn]") {
  Generator gen(2);
  Model model(gen);
  int count = 0;
  for_each_module(model, [&](Module& m) {
    REQUIRE(m.is_training());
    ++count;
  });
  REQUIRE(count > 10);
  model.eval();
  for_each_module(model, [&](Module& m) { REQUIRE_FALSE(m.is_training()); });
  model.train();
  for_each_module(model, [&](Module& m) { REQUIRE(m.is_training()); });

  // In eval mode dropout and drop-path are identities: two forwards agree and draw nothing.
  model.eval();
  Tensor x = testing::random_tensor({3, 4}, 5, -1, 1, DType::F32);
  auto before = gen.state();
  Tensor y1 = model.forward(x), y2 = model.forward(x);
  REQUIRE(testing::max_abs_diff(y1, y2) == 0.0);
  REQUIRE(gen.state().offset == before.offset);
  model.train();
  model.forward(x);
  REQUIRE(gen.state().offset == before.offset + 4);  // 2 blocks x (dropout + drop-path)
}

TEST_CASE("zero_grad drops every gradient and backward reaches every parameter", "[nn]") {
  Generator gen(3);
  Model model(gen);
  model.eval();
  Tensor x = testing::random_tensor({5, 4}, 6, -1, 1, DType::F32);
  sum(square(model.forward(x))).backward();
  for (const auto& [name, p] : model.named_parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    REQUIRE(p.grad().shape() == p.shape());
  }
  model.zero_grad();
  for (const Tensor& p : model.parameters()) REQUIRE_FALSE(p.grad().defined());
}

TEST_CASE("Linear computes x w^T + b and is initialised uniform in +-1/sqrt(in)", "[nn]") {
  Generator gen(4);
  Linear fc(64, 3, gen, true, DType::F64);
  const double bound = 1.0 / 8.0;
  auto w = fc.weight.to_vector<double>(), b = fc.bias.to_vector<double>();
  REQUIRE(fc.weight.shape() == Shape{3, 64});
  double lo = 1, hi = -1;
  for (double v : w) lo = std::min(lo, v), hi = std::max(hi, v);
  REQUIRE(lo >= -bound);
  REQUIRE(hi < bound);
  REQUIRE(hi - lo > 1.5 * bound);  // spread over the range, not constant
  for (double v : b) REQUIRE(std::abs(v) <= bound);
  Generator same(4);
  Linear again(64, 3, same, true, DType::F64);
  REQUIRE(again.weight.to_vector<double>() == w);

  Tensor x = testing::random_tensor({2, 64}, 7);
  auto y = fc.forward(x).to_vector<double>();
  auto xv = x.to_vector<double>();
  for (int n = 0; n < 2; ++n)
    for (int o = 0; o < 3; ++o) {
      double want = b[o];
      for (int i = 0; i < 64; ++i) want += xv[n * 64 + i] * w[o * 64 + i];
      REQUIRE(y[n * 3 + o] == Approx(want).epsilon(1e-12));
    }
  Linear no_bias(4, 2, gen, false);
  REQUIRE(names_of(no_bias.named_parameters()) == std::vector<std::string>{"weight"});
}

TEST_CASE("LayerNorm normalises the last dim, without affine it has no parameters", "[nn]") {
  LayerNorm norm(3, 1e-5, true, DType::F64);
  fill_(norm.weight, 2.0);
  fill_(norm.bias, 0.5);
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, -1, 0, 4}, {2, 3});
  auto y = norm.forward(x).to_vector<double>();
  auto xv = x.to_vector<double>();
  for (int r = 0; r < 2; ++r) {
    double mean = (xv[3 * r] + xv[3 * r + 1] + xv[3 * r + 2]) / 3, var = 0;
    for (int i = 0; i < 3; ++i) var += (xv[3 * r + i] - mean) * (xv[3 * r + i] - mean) / 3;
    for (int i = 0; i < 3; ++i)
      REQUIRE(y[3 * r + i] == Approx((xv[3 * r + i] - mean) / std::sqrt(var + 1e-5) * 2.0 + 0.5).epsilon(1e-10));
  }
  LayerNorm plain(3, 1e-5, false);
  REQUIRE(plain.named_parameters().empty());
  REQUIRE_THROWS_AS(norm.forward(Tensor::zeros({2, 4}, DType::F64)), Error);
}

TEST_CASE("Embedding returns the rows of its weight", "[nn]") {
  Generator gen(5);
  Embedding emb(10, 3, gen, DType::F64);
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{7, 0, 7}, {3});
  auto out = emb.forward(ids).to_vector<double>();
  auto w = emb.weight.to_vector<double>();
  REQUIRE(emb.forward(ids).shape() == Shape{3, 3});
  for (int d = 0; d < 3; ++d) {
    REQUIRE(out[d] == w[7 * 3 + d]);
    REQUIRE(out[3 + d] == w[d]);
    REQUIRE(out[6 + d] == w[7 * 3 + d]);
  }
}

TEST_CASE("Dropout and DropPath zero at rate p in training and scale the rest", "[nn]") {
  Generator gen(6);
  const double p = 0.25;
  Dropout drop(p, gen);
  Tensor x = Tensor::ones({100, 100});
  auto y = drop.forward(x).to_vector<float>();
  int zeros = 0;
  for (float v : y) {
    REQUIRE((v == 0.0f || std::abs(v - 1.0f / 0.75f) < 1e-6f));
    zeros += v == 0.0f;
  }
  REQUIRE(std::abs(zeros / 10000.0 - p) < 0.02);
  drop.eval();
  REQUIRE(drop.forward(x).to_vector<float>() == x.to_vector<float>());

  DropPath path(p, gen);
  auto z = path.forward(Tensor::ones({400, 3, 5})).to_vector<float>();
  int dropped = 0;
  for (int b = 0; b < 400; ++b) {
    for (int i = 1; i < 15; ++i) REQUIRE(z[b * 15 + i] == z[b * 15]);  // whole samples
    dropped += z[b * 15] == 0.0f;
  }
  REQUIRE(std::abs(dropped / 400.0 - p) < 0.08);
  REQUIRE_THROWS_AS(Dropout(1.0, gen), UserError);
}

TEST_CASE("Initialisers fill parameters in place without recording history", "[nn]") {
  Generator gen(7);
  Tensor w = Tensor::empty({200, 100});
  w.set_requires_grad(true);
  init::trunc_normal_(w, 0.0, 0.02, -0.03, 0.03, gen);
  REQUIRE(w.is_leaf());
  REQUIRE(w.requires_grad());
  double sq = 0;
  for (float v : w.to_vector<float>()) {
    REQUIRE(std::abs(v) <= 0.03f);
    sq += double(v) * v;
  }
  REQUIRE(std::sqrt(sq / 20000) > 0.012);
  init::normal_(w, 1.0, 0.5, gen);
  double mean = 0;
  for (float v : w.to_vector<float>()) mean += v / 20000.0;
  REQUIRE(std::abs(mean - 1.0) < 0.02);
  init::constant_(w, 3.0);
  for (float v : w.to_vector<float>()) REQUIRE(v == 3.0f);
  init::zeros_(w);
  REQUIRE(sum(w).item() == 0.0);
  init::ones_(w);
  REQUIRE(sum(w).item() == 20000.0);
  REQUIRE(w.is_leaf());
  REQUIRE(init::fan_in(Tensor::empty({8, 3, 4, 4})) == 48);
}

TEST_CASE("Module::to moves parameters and buffers to CUDA and keeps them trainable leaves", "[nn][cuda]") {
  FF_REQUIRE_CUDA();
  Generator gen(8);
  Model model(gen);
  model.eval();
  Tensor x = testing::random_tensor({3, 4}, 9, -1, 1, DType::F32);
  Tensor cpu_out = model.forward(x);
  auto names_before = names_of(model.named_parameters());
  model.to(Device::cuda());
  REQUIRE(names_of(model.named_parameters()) == names_before);
  for (const auto& [name, p] : model.named_parameters()) {
    INFO(name);
    REQUIRE(p.device().is_cuda());
    REQUIRE(p.is_leaf());
    REQUIRE(p.requires_grad());
  }
  for (const auto& [name, b] : model.named_buffers()) REQUIRE(b.device().is_cuda());
  REQUIRE(model.layers->size() == 2);
  REQUIRE(model.norm->weight.device().is_cuda());  // the member itself moved
  Tensor cuda_out = model.forward(to_device(x, Device::cuda()));
  REQUIRE(testing::max_abs_diff(cpu_out, to_device(cuda_out, Device::cpu())) < 1e-5);
  sum(cuda_out).backward();
  for (const Tensor& p : model.parameters()) REQUIRE(p.grad().device().is_cuda());
}
