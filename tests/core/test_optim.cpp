// Optimizers against updates computed here from the textbook formulas in plain doubles,
// schedules against their closed forms, clipping, and the checkpoint state round trip.

#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>

#include "core/ops/ops.h"
#include "core/optim/adam.h"
#include "core/optim/clip.h"
#include "core/optim/scheduler.h"
#include "core/optim/sgd.h"
#include "support/gradcheck.h"
#include "support/skip.h"

using namespace ff;
using namespace ff::optim;

namespace {

Tensor param(const std::vector<double>& values) {
  Tensor p = Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
  p.set_requires_grad(true);
  return p;
}

void set_grad(Tensor& p, const std::vector<double>& g) {
  p.set_grad(Tensor::from_vector(g, {static_cast<int64_t>(g.size())}));
}

// Three gradients per step for a 3-element parameter.
const std::vector<std::vector<double>> kGrads = {{0.5, -1.0, 2.0}, {-0.25, 0.75, 1.5}, {1.0, 0.1, -3.0}};
const std::vector<double> kStart = {1.0, -2.0, 0.5};

// Adam in its paper form: m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t),
// p -= lr * m_hat / (sqrt(v_hat) + eps); L2 decay adds wd * p to g, decoupled decay
// multiplies p by (1 - lr * wd) before the step.
std::vector<double> reference_adam(double lr, double wd, bool decoupled, double b1, double b2, double eps) {
  std::vector<double> p = kStart, m(3, 0.0), v(3, 0.0);
  for (int t = 1; t <= 3; ++t)
    for (int i = 0; i < 3; ++i) {
      double g = kGrads[t - 1][i];
      if (decoupled) p[i] = p[i] * (1 - lr * wd);
      else g = g + wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      double m_hat = m[i] / (1 - std::pow(b1, t));
      double v_hat = v[i] / (1 - std::pow(b2, t));
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  return p;
}

void require_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
    REQUIRE(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i])));
  }
}

template <typename Opt>
void run_three_steps(Opt& opt, Tensor& p) {
  for (int t = 0; t < 3; ++t) {
    set_grad(p, kGrads[t]);
    opt.step();
  }
}

}  // namespace

TEST_CASE("Adam with L2 weight decay matches the formula for three steps", "[optim]") {
  Tensor p = param(kStart);
  Adam opt({p}, 0.1, 0.05, {.beta1 = 0.8, .beta2 = 0.9, .eps = 1e-3});
  run_three_steps(opt, p);
  REQUIRE(opt.step_count() == 3);
  require_close(p.to_vector<double>(), reference_adam(0.1, 0.05, false, 0.8, 0.9, 1e-3));
}

TEST_CASE("AdamW with decoupled weight decay matches the formula for three steps", "[optim]") {
  Tensor p = param(kStart);
  AdamW opt({p}, 0.1, 0.3, {.beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8});
  run_three_steps(opt, p);
  require_close(p.to_vector<double>(), reference_adam(0.1, 0.3, true, 0.9, 0.99, 1e-8));
  // Decoupled and L2 decay really differ for these numbers.
  auto l2 = reference_adam(0.1, 0.3, false, 0.9, 0.99, 1e-8);
  REQUIRE(std::abs(l2[0] - p.to_vector<double>()[0]) > 1e-4);
}

TEST_CASE("AdamW skips decay in no_decay groups and uses each group's lr", "[optim]") {
  Tensor a = param(kStart), b = param(kStart);
  std::vector<ParamGroup> groups = {{.params = {a}, .lr = 0.1, .weight_decay = 0.3},
                                    {.params = {b}, .lr = 0.1, .weight_decay = 0.3, .lr_scale = 0.5, .no_decay = true}};
  AdamW opt(groups);
  opt.set_lr(0.2);  // group 0: 0.2, group 1: 0.1
  REQUIRE(opt.lr() == 0.2);
  REQUIRE(opt.param_groups()[1].lr == 0.1);
  for (int t = 0; t < 3; ++t) {
    set_grad(a, kGrads[t]);
    set_grad(b, kGrads[t]);
    opt.step();
  }
  require_close(a.to_vector<double>(), reference_adam(0.2, 0.3, true, 0.9, 0.999, 1e-8));
  require_close(b.to_vector<double>(), reference_adam(0.1, 0.0, true, 0.9, 0.999, 1e-8));
}

TEST_CASE("Optimizers skip parameters without a gradient", "[optim]") {
  Tensor a = param(kStart), b = param({3.0, 4.0});
  AdamW opt({a, b}, 0.1, 0.5);
  set_grad(a, kGrads[0]);
  opt.step();
  require_close(b.to_vector<double>(), {3.0, 4.0}, 0);
  REQUIRE(a.to_vector<double>() != kStart);
  opt.zero_grad();
  REQUIRE_FALSE(a.grad().defined());
}

TEST_CASE("SGD with momentum, dampening and Nesterov matches the formula for three steps", "[optim]") {
  struct Case {
    double momentum, dampening, wd;
    bool nesterov;
  };
  for (Case c : {Case{0.0, 0.0, 0.1, false}, Case{0.9, 0.0, 0.1, false}, Case{0.9, 0.3, 0.0, false},
                 Case{0.8, 0.0, 0.2, true}}) {
    INFO("momentum " << c.momentum << " dampening " << c.dampening << " nesterov " << c.nesterov);
    const double lr = 0.05;
    Tensor p = param(kStart);
    SGD opt({p}, lr, c.wd, {.momentum = c.momentum, .dampening = c.dampening, .nesterov = c.nesterov});
    run_three_steps(opt, p);
    std::vector<double> want = kStart, buf(3, 0.0);
    for (int t = 1; t <= 3; ++t)
      for (int i = 0; i < 3; ++i) {
        double g = kGrads[t - 1][i] + c.wd * want[i];
        if (c.momentum != 0) {
          buf[i] = t == 1 ? g : c.momentum * buf[i] + (1 - c.dampening) * g;
          g = c.nesterov ? g + c.momentum * buf[i] : buf[i];
        }
        want[i] -= lr * g;
      }
    require_close(p.to_vector<double>(), want);
  }
}

TEST_CASE("Optimizer state exported and loaded gives identical continued updates", "[optim]") {
  auto make = [](const std::vector<double>& a, const std::vector<double>& b) {
    return std::pair{param(a), param(b)};
  };
  auto [a1, b1] = make(kStart, {0.1, 0.2});
  AdamW first({a1, b1}, 0.05, 0.1);
  for (int t = 0; t < 2; ++t) {
    set_grad(a1, kGrads[t]);
    set_grad(b1, {kGrads[t][0], -kGrads[t][1]});
    first.step();
  }
  NamedTensors saved;
  for (const auto& [name, t] : first.state_tensors()) saved.emplace_back(name, clone(t));
  std::vector<std::string> names;
  for (const auto& entry : saved) names.push_back(entry.first);
  REQUIRE(names == std::vector<std::string>{"step", "exp_avg.0", "exp_avg.1", "exp_avg_sq.0", "exp_avg_sq.1"});
  REQUIRE(saved[0].second.item() == 2);

  // A second optimizer over copies of the parameters, restored from the saved state.
  auto [a2, b2] = make(a1.to_vector<double>(), b1.to_vector<double>());
  AdamW second({a2, b2}, 0.05, 0.1);
  second.load_state_tensors(saved);
  REQUIRE(second.step_count() == 2);
  for (int t = 2; t < 3; ++t)
    for (auto [opt, a, b] : {std::tuple{&first, &a1, &b1}, std::tuple{&second, &a2, &b2}}) {
      set_grad(*a, kGrads[t]);
      set_grad(*b, {kGrads[t][0], -kGrads[t][1]});
      opt->step();
    }
  REQUIRE(a1.to_vector<double>() == a2.to_vector<double>());
  REQUIRE(b1.to_vector<double>() == b2.to_vector<double>());

  // A fresh optimizer continuing from zero state would differ.
  auto [a3, b3] = make(kStart, {0.1, 0.2});
  REQUIRE(a3.to_vector<double>() != a1.to_vector<double>());
}

TEST_CASE("Loading optimizer state with a missing, extra or misshapen tensor is a user error", "[optim]") {
  Tensor p = param(kStart);
  SGD opt({p}, 0.1, 0.0, {.momentum = 0.9});
  NamedTensors good = opt.state_tensors();
  REQUIRE(good.size() == 2);
  REQUIRE(good[1].first == "momentum_buffer.0");
  NamedTensors missing = {good[0]};
  REQUIRE_THROWS_AS(opt.load_state_tensors(missing), UserError);
  NamedTensors extra = good;
  extra.emplace_back("momentum_buffer.1", Tensor::zeros({3}, DType::F64));
  REQUIRE_THROWS_AS(opt.load_state_tensors(extra), UserError);
  NamedTensors misshapen = {good[0], {"momentum_buffer.0", Tensor::zeros({4}, DType::F64)}};
  REQUIRE_THROWS_AS(opt.load_state_tensors(misshapen), UserError);
  opt.load_state_tensors(good);
}

TEST_CASE("decay_groups leaves 1-D and listed parameters undecayed", "[optim]") {
  NamedTensors named = {{"embed.weight", param({1, 2, 3, 4})}, {"pos_embed", param({1, 2})},
                        {"blocks.0.fc.weight", param({1, 2})}, {"blocks.0.fc.bias", param({1})}};
  named[0].second = reshape(named[0].second.detach(), {2, 2}).set_requires_grad(true);
  named[1].second = reshape(named[1].second.detach(), {1, 2}).set_requires_grad(true);
  named[2].second = reshape(named[2].second.detach(), {2, 1}).set_requires_grad(true);
  auto groups = decay_groups(named, 0.1, 0.05, {"pos_embed"});
  REQUIRE(groups.size() == 2);
  REQUIRE(groups[0].params.size() == 2);
  REQUIRE_FALSE(groups[0].no_decay);
  REQUIRE(groups[1].params.size() == 2);
  REQUIRE(groups[1].no_decay);
  REQUIRE(groups[1].effective_weight_decay() == 0.0);
  REQUIRE(groups[1].params[0].storage() == named[1].second.storage());
}

TEST_CASE("Cosine schedule with warmup matches the closed form at key steps", "[optim]") {
  const double base = 1e-3, min_lr = 1e-5, lr0 = 1e-6;
  const int64_t W = 100, T = 1000;
  auto cosine = [&](double u) { return min_lr + 0.5 * (base - min_lr) * (1 + std::cos(std::numbers::pi * u)); };

  CosineSchedule timm_style(base, min_lr, T, {.warmup_steps = W, .warmup_lr = lr0});
  REQUIRE(timm_style.lr_at(0) == Approx(lr0).epsilon(1e-12));
  REQUIRE(timm_style.lr_at(50) == Approx(lr0 + (base - lr0) * 0.5).epsilon(1e-12));
  REQUIRE(timm_style.lr_at(W) == Approx(cosine(double(W) / T)).epsilon(1e-12));
  REQUIRE(timm_style.lr_at(550) == Approx(cosine(0.55)).epsilon(1e-12));
  REQUIRE(timm_style.lr_at(T) == min_lr);
  REQUIRE(timm_style.lr_at(T + 10) == min_lr);

  CosineSchedule prefix(base, min_lr, T, {.warmup_steps = W}, /*warmup_prefix=*/true);
  REQUIRE(prefix.lr_at(0) == 0.0);
  REQUIRE(prefix.lr_at(W) == Approx(base).epsilon(1e-12));
  REQUIRE(prefix.lr_at(550) == Approx(cosine(0.5)).epsilon(1e-12));
  REQUIRE(prefix.lr_at(550) == Approx(0.5 * (base + min_lr)).epsilon(1e-12));
  REQUIRE(prefix.lr_at(T - 1) == Approx(cosine(double(T - 1 - W) / (T - W))).epsilon(1e-12));
  REQUIRE(prefix.lr_at(T) == min_lr);

  CosineSchedule no_warmup(base, 0.0, T);
  REQUIRE(no_warmup.lr_at(0) == base);
}

TEST_CASE("Epoch-based cosine holds the lr within an epoch (DeiT)", "[optim]") {
  auto per_epoch = std::make_shared<CosineSchedule>(5e-4, 1e-5, 300, WarmupOptions{.warmup_steps = 5, .warmup_lr = 1e-6});
  EpochSchedule schedule(per_epoch, 1251);
  REQUIRE(schedule.lr_at(0) == per_epoch->lr_at(0));
  REQUIRE(schedule.lr_at(1250) == per_epoch->lr_at(0));
  REQUIRE(schedule.lr_at(1251) == per_epoch->lr_at(1));
  REQUIRE(schedule.lr_at(5 * 1251) == Approx(1e-5 + 0.5 * (5e-4 - 1e-5) * (1 + std::cos(std::numbers::pi * 5 / 300.0))));
  REQUIRE(schedule.lr_at(305 * 1251) == 1e-5);
}

TEST_CASE("Constant and inverse-sqrt schedules match their closed forms", "[optim]") {
  ConstantSchedule constant(0.1, {.warmup_steps = 10});
  REQUIRE(constant.lr_at(0) == 0.0);
  REQUIRE(constant.lr_at(5) == Approx(0.05));
  REQUIRE(constant.lr_at(10) == 0.1);
  REQUIRE(constant.lr_at(100000) == 0.1);
  REQUIRE(ConstantSchedule(0.1).lr_at(0) == 0.1);

  InverseSqrtSchedule inv(1e-3, {.warmup_steps = 400, .warmup_lr = 1e-7});
  REQUIRE(inv.lr_at(0) == Approx(1e-7));
  REQUIRE(inv.lr_at(200) == Approx(1e-7 + (1e-3 - 1e-7) * 0.5));
  REQUIRE(inv.lr_at(400) == Approx(1e-3));
  REQUIRE(inv.lr_at(1600) == Approx(1e-3 * 0.5));
  REQUIRE(inv.lr_at(40000) == Approx(1e-3 * std::sqrt(400.0 / 40000.0)));
  InverseSqrtSchedule no_warmup(1.0);
  REQUIRE(no_warmup.lr_at(0) == 1.0);
  REQUIRE(no_warmup.lr_at(4) == Approx(0.5));
}

TEST_CASE("clip_grad_norm_ returns the global norm and scales only above max_norm", "[optim]") {
  Tensor a = param({0, 0, 0}), b = param({0, 0});
  set_grad(a, {3.0, 0.0, 4.0});
  set_grad(b, {0.0, 12.0});
  Tensor c = param({1.0});  // no gradient: ignored
  const double norm = std::sqrt(9.0 + 16.0 + 144.0);
  REQUIRE(clip_grad_norm_({a, b, c}, 100.0) == Approx(norm).epsilon(1e-14));
  REQUIRE(a.grad().to_vector<double>() == std::vector<double>{3.0, 0.0, 4.0});

  REQUIRE(clip_grad_norm_({a, b, c}, 1.3) == Approx(norm).epsilon(1e-14));
  const double s = 1.3 / (norm + 1e-6);
  require_close(a.grad().to_vector<double>(), {3.0 * s, 0.0, 4.0 * s});
  require_close(b.grad().to_vector<double>(), {0.0, 12.0 * s});
  REQUIRE(clip_grad_norm_({a, b}, 100.0) == Approx(1.3).epsilon(1e-6));
}

TEST_CASE("clip_grad_norm_ scales a shared gradient once and reports non-finite norms", "[optim]") {
  Tensor a = param({0, 0}), b = param({0, 0});
  Tensor shared = Tensor::from_vector(std::vector<double>{6.0, 8.0}, {2});
  a.set_grad(shared);
  b.set_grad(shared);
  REQUIRE(clip_grad_norm_({a, b}, 1.0) == Approx(std::sqrt(200.0)));
  const double s = 1.0 / (std::sqrt(200.0) + 1e-6);
  require_close(a.grad().to_vector<double>(), {6.0 * s, 8.0 * s});

  set_grad(a, {1.0, NAN});
  set_grad(b, {1.0, 1.0});
  REQUIRE(std::isnan(clip_grad_norm_({a, b}, 1.0)));
  REQUIRE(b.grad().to_vector<double>() == std::vector<double>{1.0, 1.0});
  set_grad(a, {INFINITY, 0.0});
  REQUIRE(std::isinf(clip_grad_norm_({a, b}, 1.0)));
}

TEST_CASE("Fused Adam and AdamW on CUDA match the CPU", "[optim][cuda]") {
  FF_REQUIRE_CUDA();
  for (bool decoupled : {false, true}) {
    INFO("decoupled " << decoupled);
    const Shape shape = {37, 129};
    Tensor cpu_p = testing::random_tensor(shape, 1, -1, 1, DType::F32).set_requires_grad(true);
    Tensor cuda_p = to_device(cpu_p.detach(), Device::cuda()).set_requires_grad(true);
    std::unique_ptr<Optimizer> cpu_opt, cuda_opt;
    if (decoupled) {
      cpu_opt = std::make_unique<AdamW>(std::vector<Tensor>{cpu_p}, 1e-2, 0.1);
      cuda_opt = std::make_unique<AdamW>(std::vector<Tensor>{cuda_p}, 1e-2, 0.1);
    } else {
      cpu_opt = std::make_unique<Adam>(std::vector<Tensor>{cpu_p}, 1e-2, 0.1);
      cuda_opt = std::make_unique<Adam>(std::vector<Tensor>{cuda_p}, 1e-2, 0.1);
    }
    for (int t = 0; t < 5; ++t) {
      Tensor g = testing::random_tensor(shape, 100 + t, -2, 2, DType::F32);
      cpu_p.set_grad(g);
      cuda_p.set_grad(to_device(g, Device::cuda()));
      cpu_opt->step();
      cuda_opt->step();
    }
    REQUIRE(testing::max_abs_diff(cpu_p, to_device(cuda_p.detach(), Device::cpu())) < 1e-5);
    auto cpu_state = cpu_opt->state_tensors(), cuda_state = cuda_opt->state_tensors();
    for (size_t i = 1; i < cpu_state.size(); ++i)
      REQUIRE(testing::max_abs_diff(cpu_state[i].second, to_device(cuda_state[i].second, Device::cpu())) < 1e-5);
  }
}
