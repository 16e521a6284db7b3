#include "core/train/train_config.h"

#include <fmt/format.h>

#include "core/optim/adam.h"
#include "core/optim/sgd.h"
#include "core/tensor/device.h"

namespace ff::train {

using config::at_least;
using config::between;
using config::non_negative;
using config::positive;

TrainConfig parse_train_config(const config::Section& root, const std::string& default_name) {
  TrainConfig c;
  c.name = root.get<std::string>("name", default_name);
  c.work_dir = root.get<std::string>("work_dir", "runs/" + c.name);
  if (c.work_dir.empty()) root.fail("work_dir", "must be a directory path, got an empty string");
  c.seed = static_cast<uint64_t>(root.get<int64_t>("seed", 1, non_negative()));
  c.device = root.get<std::string>("device", "auto");
  if (c.device != "auto") {
    try {
      parse_device(c.device);
    } catch (const UserError&) {
      root.fail("device", fmt::format("must be auto, cpu, cuda or cuda:N, got '{}'", c.device));
    }
  }
  c.threads = root.get<int>("threads", 0, between(0, 4096));

  const config::Section t = root.section("train");
  c.max_steps = t.get<int64_t>("max_steps", 0, non_negative());
  c.max_epochs = t.get<int64_t>("max_epochs", 0, non_negative());
  if ((c.max_steps > 0) == (c.max_epochs > 0))
    t.fail("max_steps", "or 'train.max_epochs' must be set (> 0), and not both");
  c.grad_accum = t.get<int64_t>("grad_accum", 1, at_least(1));
  c.clip_grad_norm = t.get<double>("clip_grad_norm", 0.0, non_negative());
  c.log_interval = t.get<int64_t>("log_interval", 100, at_least(1));
  c.eval_interval = t.get<int64_t>("eval_interval", 1000, non_negative());
  c.eval_split = t.get<std::string>("eval_split", "valid");
  c.eval_max_batches = t.get<int64_t>("eval_max_batches", 0, non_negative());
  c.precision = t.choice("precision", c.precision, {"fp32", "bf16"});
  c.tf32 = t.get<bool>("tf32", c.tf32);

  const config::Section o = t.section("optimizer");
  OptimizerConfig& opt = c.optimizer;
  opt.name = o.choice("name", opt.name, {"adam", "adamw", "sgd"});
  opt.lr = o.get<double>("lr", opt.lr, positive());
  opt.lr_reference_batch = o.get<int64_t>("lr_reference_batch", opt.lr_reference_batch, non_negative());
  opt.betas = o.get<std::vector<double>>("betas", opt.betas, config::probability());
  if (opt.betas.size() != 2)
    o.fail("betas", fmt::format("must be a list of two numbers in [0, 1), got {}", opt.betas.size()));
  opt.eps = o.get<double>("eps", opt.eps, positive());
  opt.weight_decay = o.get<double>("weight_decay", opt.weight_decay, non_negative());
  opt.no_decay = o.get<std::vector<std::string>>("no_decay", opt.no_decay);
  opt.momentum = o.get<double>("momentum", opt.momentum, config::probability());
  opt.nesterov = o.get<bool>("nesterov", opt.nesterov);
  if (opt.nesterov && opt.momentum == 0.0) o.fail("nesterov", "needs momentum > 0");

  const config::Section s = t.section("scheduler");
  SchedulerConfig& sch = c.scheduler;
  sch.name = s.choice("name", sch.name, {"cosine", "constant", "inverse_sqrt"});
  sch.unit = s.choice("unit", sch.unit, {"step", "epoch"});
  sch.warmup = s.get<int64_t>("warmup", sch.warmup, non_negative());
  sch.warmup_lr = s.get<double>("warmup_lr", sch.warmup_lr, non_negative());
  sch.min_lr = s.get<double>("min_lr", sch.min_lr, non_negative());
  sch.warmup_prefix = s.get<bool>("warmup_prefix", sch.warmup_prefix);
  if (sch.min_lr > opt.lr)
    s.fail("min_lr", fmt::format("must be <= train.optimizer.lr ({}), got {}", opt.lr, sch.min_lr));

  const config::Section k = t.section("checkpoint");
  c.checkpoint.interval = k.get<int64_t>("interval", c.checkpoint.interval, non_negative());
  c.checkpoint.keep_last = k.get<int64_t>("keep_last", c.checkpoint.keep_last, at_least(1));
  c.checkpoint.keep_best = k.get<bool>("keep_best", c.checkpoint.keep_best);

  const config::Section n = t.section("nonfinite");
  c.nonfinite.policy = n.choice("policy", c.nonfinite.policy, {"skip", "abort"});
  c.nonfinite.max_in_a_row = n.get<int64_t>("max_in_a_row", c.nonfinite.max_in_a_row, at_least(1));

  const config::Section d = t.section("distributed");
  DistributedConfig& dist = c.distributed;
  dist.mode = d.choice("mode", dist.mode, {"auto", "none", "data_parallel"});
  dist.backend = d.choice("backend", dist.backend, {"auto", "local", "mpi", "nccl"});
  dist.bucket_mb = d.get<double>("bucket_mb", dist.bucket_mb, positive());
  dist.timeout_s = d.get<double>("timeout_s", dist.timeout_s, positive());
  return c;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const OptimizerConfig& cfg, std::vector<optim::ParamGroup> groups) {
  for (optim::ParamGroup& g : groups) {
    g.lr = cfg.lr;
    g.weight_decay = cfg.weight_decay;
  }
  if (cfg.name == "sgd")
    return std::make_unique<optim::SGD>(std::move(groups),
                                        optim::SgdOptions{.momentum = cfg.momentum, .nesterov = cfg.nesterov});
  const optim::AdamOptions adam{.beta1 = cfg.betas.at(0), .beta2 = cfg.betas.at(1), .eps = cfg.eps};
  if (cfg.name == "adamw") return std::make_unique<optim::AdamW>(std::move(groups), adam);
  FF_CHECK(cfg.name == "adam", "unknown optimizer '{}'", cfg.name);
  return std::make_unique<optim::Adam>(std::move(groups), adam);
}

std::unique_ptr<optim::LrSchedule> make_schedule(const TrainConfig& cfg, int64_t total_steps, int64_t steps_per_epoch) {
  const SchedulerConfig& s = cfg.scheduler;
  const bool per_epoch = s.unit == "epoch";
  FF_USER_CHECK(!per_epoch || steps_per_epoch > 0,
                "train.scheduler.unit: epoch needs a task that knows its epoch length (this one streams)");
  const int64_t total = per_epoch ? (total_steps + steps_per_epoch - 1) / steps_per_epoch : total_steps;
  const optim::WarmupOptions warmup{.warmup_steps = s.warmup, .warmup_lr = s.warmup_lr};
  std::shared_ptr<optim::LrSchedule> base;
  if (s.name == "cosine")
    base = std::make_shared<optim::CosineSchedule>(cfg.optimizer.lr, s.min_lr, total, warmup, s.warmup_prefix);
  else if (s.name == "constant")
    base = std::make_shared<optim::ConstantSchedule>(cfg.optimizer.lr, warmup);
  else
    base = std::make_shared<optim::InverseSqrtSchedule>(cfg.optimizer.lr, warmup);
  if (!per_epoch) {
    // Keep the shared object alive through a tiny adapter.
    struct Holder : optim::LrSchedule {
      std::shared_ptr<optim::LrSchedule> s;
      double lr_at(int64_t t) const override { return s->lr_at(t); }
    };
    auto h = std::make_unique<Holder>();
    h->s = std::move(base);
    return h;
  }
  return std::make_unique<optim::EpochSchedule>(std::move(base), steps_per_epoch);
}

}  // namespace ff::train
