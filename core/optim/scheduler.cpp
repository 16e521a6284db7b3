#include "core/optim/scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/common.h"

namespace ff::optim {
namespace {

void check_warmup(const WarmupOptions& w) {
  FF_USER_CHECK(w.warmup_steps >= 0, "warmup steps must be >= 0, got {}", w.warmup_steps);
}

// The warmup ramp; only for t < warmup_steps.
double warmup_lr(const WarmupOptions& w, double base_lr, int64_t t) {
  return w.warmup_lr + (base_lr - w.warmup_lr) * static_cast<double>(t) / static_cast<double>(w.warmup_steps);
}

}  // namespace

CosineSchedule::CosineSchedule(double base_lr, double min_lr, int64_t total_steps, WarmupOptions warmup,
                               bool warmup_prefix)
    : base_lr_(base_lr), min_lr_(min_lr), total_steps_(total_steps), warmup_(warmup), warmup_prefix_(warmup_prefix) {
  check_warmup(warmup);
  FF_USER_CHECK(total_steps > 0, "cosine schedule needs total steps > 0, got {}", total_steps);
  FF_USER_CHECK(!warmup_prefix || total_steps > warmup.warmup_steps,
                "cosine schedule with a warmup prefix needs total steps ({}) > warmup steps ({})", total_steps,
                warmup.warmup_steps);
}

double CosineSchedule::lr_at(int64_t t) const {
  if (t < warmup_.warmup_steps) return warmup_lr(warmup_, base_lr_, t);
  const double u = warmup_prefix_ ? static_cast<double>(t - warmup_.warmup_steps) /
                                        static_cast<double>(total_steps_ - warmup_.warmup_steps)
                                  : static_cast<double>(t) / static_cast<double>(total_steps_);
  if (u >= 1.0) return min_lr_;
  return min_lr_ + 0.5 * (base_lr_ - min_lr_) * (1.0 + std::cos(std::numbers::pi * u));
}

ConstantSchedule::ConstantSchedule(double base_lr, WarmupOptions warmup) : base_lr_(base_lr), warmup_(warmup) {
  check_warmup(warmup);
}

double ConstantSchedule::lr_at(int64_t t) const {
  return t < warmup_.warmup_steps ? warmup_lr(warmup_, base_lr_, t) : base_lr_;
}

InverseSqrtSchedule::InverseSqrtSchedule(double base_lr, WarmupOptions warmup) : base_lr_(base_lr), warmup_(warmup) {
  check_warmup(warmup);
}

double InverseSqrtSchedule::lr_at(int64_t t) const {
  if (t < warmup_.warmup_steps) return warmup_lr(warmup_, base_lr_, t);
  const double w = static_cast<double>(std::max<int64_t>(warmup_.warmup_steps, 1));
  return base_lr_ * std::sqrt(w) / std::sqrt(static_cast<double>(std::max<int64_t>(t, 1)));
}

EpochSchedule::EpochSchedule(std::shared_ptr<const LrSchedule> per_epoch, int64_t steps_per_epoch)
    : per_epoch_(std::move(per_epoch)), steps_per_epoch_(steps_per_epoch) {
  FF_CHECK(per_epoch_ != nullptr, "epoch schedule needs a schedule");
  FF_USER_CHECK(steps_per_epoch > 0, "steps per epoch must be > 0, got {}", steps_per_epoch);
}

double EpochSchedule::lr_at(int64_t step) const { return per_epoch_->lr_at(step / steps_per_epoch_); }

}  // namespace ff::optim
