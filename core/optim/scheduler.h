#pragma once
// Learning-rate schedules as pure functions of the step: lr_at(t) for t = 0, 1, 2, ... is the
// lr used by the t-th optimizer update (the trainer calls opt.set_lr(schedule.lr_at(t)) before
// update t). Formulas (W = warmup, T = total, lr0 = warmup_lr):
//
//   warmup (all schedules), t < W:  lr0 + (base_lr - lr0) * t / W
//   CosineSchedule, t >= W:
//     u = t / T            (warmup_prefix = false: timm's default and Transformer-XL's)
//     u = (t - W) / (T - W) (warmup_prefix = true: the cosine starts after the warmup)
//     lr = min_lr + 0.5 * (base_lr - min_lr) * (1 + cos(pi * u))  for u < 1, min_lr after
//   ConstantSchedule, t >= W:       base_lr
//   InverseSqrtSchedule, t >= W:    base_lr * sqrt(max(W, 1)) / sqrt(max(t, 1))   (fairseq)
//
// EpochSchedule(per_epoch, steps_per_epoch) runs a schedule whose t counts epochs:
// lr_at(step) = per_epoch.lr_at(step / steps_per_epoch) (integer division), so the lr is
// constant within an epoch, as DeiT stepping timm's scheduler once per epoch.

#include <cstdint>
#include <memory>

namespace ff::optim {

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual double lr_at(int64_t t) const = 0;
};

struct WarmupOptions {
  int64_t warmup_steps = 0;
  double warmup_lr = 0.0;  // lr at t = 0
};

class CosineSchedule : public LrSchedule {
 public:
  CosineSchedule(double base_lr, double min_lr, int64_t total_steps, WarmupOptions warmup = {},
                 bool warmup_prefix = false);
  double lr_at(int64_t t) const override;

 private:
  double base_lr_, min_lr_;
  int64_t total_steps_;
  WarmupOptions warmup_;
  bool warmup_prefix_;
};

class ConstantSchedule : public LrSchedule {
 public:
  explicit ConstantSchedule(double base_lr, WarmupOptions warmup = {});
  double lr_at(int64_t t) const override;

 private:
  double base_lr_;
  WarmupOptions warmup_;
};

class InverseSqrtSchedule : public LrSchedule {
 public:
  explicit InverseSqrtSchedule(double base_lr, WarmupOptions warmup = {});
  double lr_at(int64_t t) const override;

 private:
  double base_lr_;
  WarmupOptions warmup_;
};

class EpochSchedule : public LrSchedule {
 public:
  EpochSchedule(std::shared_ptr<const LrSchedule> per_epoch, int64_t steps_per_epoch);
  double lr_at(int64_t step) const override;

 private:
  std::shared_ptr<const LrSchedule> per_epoch_;
  int64_t steps_per_epoch_;
};

}  // namespace ff::optim
