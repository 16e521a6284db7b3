// End to end on the CPU: a two-layer MLP learns a 3-class spiral with AdamW, a warmup-cosine
// schedule, gradient clipping and cross-entropy, using the same loop as the trainer
// (set_lr, forward, backward, clip, step, zero_grad).

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <numbers>
#include <random>

#include "core/nn/nn.h"
#include "core/ops/loss.h"
#include "core/ops/ops.h"
#include "core/optim/adam.h"
#include "core/optim/clip.h"
#include "core/optim/scheduler.h"

using namespace ff;

namespace {

// Three interleaved spiral arms in 2-D (radius 0.1 .. 1, each arm turning by 0.75 of a circle),
// with Gaussian noise; not linearly separable.
void make_spirals(int n, uint64_t seed, Tensor* points, Tensor* labels) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.04f);
  std::uniform_real_distribution<float> radius(0.1f, 1.0f);
  std::vector<float> xy(2 * n);
  std::vector<int64_t> y(n);
  for (int i = 0; i < n; ++i) {
    const int cls = i % 3;
    const float r = radius(rng);
    const float angle = 2.0f * std::numbers::pi_v<float> * (cls / 3.0f + 0.75f * r);
    xy[2 * i] = r * std::cos(angle) + noise(rng);
    xy[2 * i + 1] = r * std::sin(angle) + noise(rng);
    y[i] = cls;
  }
  *points = Tensor::from_vector(xy, {n, 2});
  *labels = Tensor::from_vector(y, {n});
}

struct Mlp : nn::UnaryModule {
  Mlp(int64_t hidden, Generator& gen) {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(2, hidden, gen));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(hidden, 3, gen));
  }
  Tensor forward(const Tensor& x) override { return fc2->forward(gelu(fc1->forward(x))); }
  std::shared_ptr<nn::Linear> fc1, fc2;
};

double accuracy(const Tensor& logits, const Tensor& labels) {
  auto l = logits.to_vector<float>();
  auto y = labels.to_vector<int64_t>();
  int correct = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const float* row = &l[3 * i];
    int64_t best = std::max_element(row, row + 3) - row;
    correct += best == y[i];
  }
  return static_cast<double>(correct) / y.size();
}

}  // namespace

TEST_CASE("A two-layer MLP trained with AdamW learns a 3-class spiral", "[integration]") {
  const auto start = std::chrono::steady_clock::now();
  Tensor x, y, x_test, y_test;
  make_spirals(512, 2022, &x, &y);
  make_spirals(512, 7, &x_test, &y_test);

  Generator gen(0);
  Mlp model(64, gen);
  const int64_t steps = 300;
  optim::AdamW opt(optim::decay_groups(model.named_parameters(), 0.0, 1e-4));
  optim::CosineSchedule schedule(3e-2, 1e-4, steps, {.warmup_steps = 20});

  const double initial_loss = cross_entropy(model.forward(x), y).item();
  double loss = initial_loss;
  for (int64_t t = 0; t < steps; ++t) {
    opt.set_lr(schedule.lr_at(t));
    Tensor l = cross_entropy(model.forward(x), y);
    l.backward();
    const double norm = optim::clip_grad_norm_(model.parameters(), 5.0);
    REQUIRE(std::isfinite(norm));
    opt.step();
    opt.zero_grad();
    loss = l.item();
  }
  NoGradGuard no_grad;
  model.eval();
  const double final_loss = cross_entropy(model.forward(x), y).item();
  const double train_acc = accuracy(model.forward(x), y), test_acc = accuracy(model.forward(x_test), y_test);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO("loss " << initial_loss << " -> " << final_loss << " (last step " << loss << "), train acc " << train_acc
               << ", test acc " << test_acc << ", " << seconds << " s");
  CHECK(initial_loss > 0.9);  // about log(3) at init
  CHECK(final_loss < 0.3 * initial_loss);
  CHECK(train_acc > 0.9);
  CHECK(test_acc > 0.9);
  WARN("spiral MLP: loss " << initial_loss << " -> " << final_loss << ", train acc " << train_acc << ", test acc "
                           << test_acc << ", " << seconds << " s");
}
