#include "core/train/trainer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstring>

#include "core/autograd/autograd.h"
#include "core/ops/elementwise.h"
#include "core/optim/clip.h"
#include "core/tensor/storage.h"
#include "core/train/signals.h"

namespace ff::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Device resolve_device(const std::string& name) {
  if (name == "auto") return cuda_available() ? Device::cuda(0) : Device::cpu();
  return parse_device(name);
}

Trainer::Trainer(const TrainConfig& cfg, Task& task, Generator& gen, nlohmann::ordered_json resolved_config,
                 TrainerOptions options)
    : cfg_(cfg),
      task_(task),
      gen_(gen),
      resolved_config_(std::move(resolved_config)),
      config_yaml_(config::to_yaml(resolved_config_)),
      options_(std::move(options)),
      checkpoints_(cfg.work_dir / "checkpoints", cfg.checkpoint.keep_last),
      progress_(options_.progress) {
  steps_per_epoch_ = task_.batches_per_epoch() / cfg_.grad_accum;
  FF_USER_CHECK(task_.batches_per_epoch() == 0 || steps_per_epoch_ > 0,
                "train.grad_accum ({}) is larger than the number of batches per epoch ({})", cfg_.grad_accum,
                task_.batches_per_epoch());
  if (cfg_.max_steps > 0) {
    total_steps_ = cfg_.max_steps;
  } else {
    FF_USER_CHECK(steps_per_epoch_ > 0,
                  "train.max_epochs needs a task with a known epoch length; this task streams: set train.max_steps");
    total_steps_ = cfg_.max_epochs * steps_per_epoch_;
  }
  optimizer_ = make_optimizer(cfg_.optimizer, task_.param_groups(cfg_.optimizer.no_decay));
  schedule_ = make_schedule(cfg_, total_steps_, steps_per_epoch_);
  params_ = task_.model().parameters();
}

Trainer::~Trainer() = default;

std::optional<double> Trainer::best_loss() const {
  if (best_step_ < 0) return std::nullopt;
  return best_loss_;
}

void Trainer::info(const std::string& message) {
  progress_.clear();
  spdlog::info("{}", message);
  progress_.redraw();
}

TrainOutcome Trainer::run() {
  if (options_.resume) {
    std::optional<fs::path> dir;
    if (!options_.resume_from.empty())
      dir = resolve_checkpoint(options_.resume_from);
    else
      dir = checkpoints_.latest();
    if (dir) {
      load_checkpoint(*dir);
      info(fmt::format("resumed from {} at step {}", dir->string(), step_));
    } else {
      info(fmt::format("no checkpoint in {}: starting from scratch", checkpoints_.dir().string()));
    }
  }
  checkpoints_.remove_stale_temps();
  metrics_ = MetricsWriter(cfg_.work_dir / "metrics.jsonl", step_);
  info(fmt::format("training {} parameters for {} steps of {} micro-batch(es), from step {}",
                   task_.model().num_parameters(), total_steps_, cfg_.grad_accum, step_));

  task_.model().train();
  while (step_ < total_steps_) {
    if (const int sig = stop_requested()) {
      const fs::path dir = save_checkpoint();
      progress_.clear();
      spdlog::warn("signal {} ({}): saved {} at step {}; exiting with code {} (resume with --resume)", sig,
                   strsignal(sig), dir.string(), step_, kExitStopped);
      return TrainOutcome::Stopped;
    }
    train_step();
    if (step_ % cfg_.log_interval == 0 || step_ == total_steps_) log_train_record();
    if ((cfg_.eval_interval > 0 && step_ % cfg_.eval_interval == 0) || step_ == total_steps_) evaluate();
    if ((cfg_.checkpoint.interval > 0 && step_ % cfg_.checkpoint.interval == 0) || step_ == total_steps_)
      save_checkpoint();
  }
  progress_.clear();
  spdlog::info("finished {} steps{}", step_,
               best_step_ >= 0
                   ? fmt::format("; best {} loss {:.4f} at step {}", cfg_.eval_split, best_loss_, best_step_)
                   : std::string());
  return TrainOutcome::Finished;
}

void Trainer::train_step() {
  const auto start = Clock::now();
  const double lr = schedule_->lr_at(step_);
  optimizer_->set_lr(lr);
  double loss_sum = 0, units = 0;
  for (int64_t i = 0; i < cfg_.grad_accum; ++i) {
    LossOutput out = task_.train_loss();
    FF_CHECK(out.loss.defined() && out.loss.numel() == 1, "Task::train_loss must return a scalar loss, got {}",
             out.loss.defined() ? out.loss.str() : "an undefined tensor");
    Tensor scaled = cfg_.grad_accum == 1 ? out.loss : mul(out.loss, 1.0 / static_cast<double>(cfg_.grad_accum));
    scaled.backward();
    loss_sum += out.loss.item();
    units += out.units;
  }
  const double loss = loss_sum / static_cast<double>(cfg_.grad_accum);
  const double max_norm = cfg_.clip_grad_norm > 0 ? cfg_.clip_grad_norm : std::numeric_limits<double>::infinity();
  const double norm = optim::clip_grad_norm_(params_, max_norm);
  const bool finite = std::isfinite(loss) && std::isfinite(norm);
  const int64_t this_step = step_ + 1;
  if (finite) {
    optimizer_->step();
    nonfinite_in_a_row_ = 0;
  } else {
    ++nonfinite_total_;
    ++nonfinite_in_a_row_;
    optimizer_->zero_grad();
    if (cfg_.nonfinite.policy == "abort")
      throw TrainingDiverged(
          fmt::format("step {}: non-finite loss {} / gradient norm {}; stopping (train.nonfinite.policy: abort)",
                      this_step, loss, norm));
    if (nonfinite_in_a_row_ >= cfg_.nonfinite.max_in_a_row)
      throw TrainingDiverged(
          fmt::format("step {}: {} non-finite steps in a row (loss {}, gradient norm {}); stopping "
                      "(train.nonfinite.max_in_a_row: {})",
                      this_step, nonfinite_in_a_row_, loss, norm, cfg_.nonfinite.max_in_a_row));
    progress_.clear();
    spdlog::warn("step {}: non-finite loss {} / gradient norm {}: update skipped ({} in a row, {} in total)", this_step,
                 loss, norm, nonfinite_in_a_row_, nonfinite_total_);
    progress_.redraw();
  }
  optimizer_->zero_grad();
  step_ = this_step;
  last_lr_ = lr;

  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  window_.steps += 1;
  window_.units += units;
  window_.seconds += seconds;
  if (finite) {
    window_.finite_steps += 1;
    window_.loss_sum += loss;
    window_.grad_norm_sum += norm;
  } else {
    window_.skipped += 1;
  }
  step_seconds_ema_ = step_seconds_ema_ == 0 ? seconds : 0.9 * step_seconds_ema_ + 0.1 * seconds;

  if (progress_.enabled()) {
    std::string text = fmt::format("step {}/{} | loss {:.4f}", step_, total_steps_, loss);
    for (const auto& [k, v] : task_.loss_metrics(loss)) text += fmt::format(" | {} {:.2f}", k, v);
    text += fmt::format(" | {} {}/s | lr {:.2e} | ETA {}", format_count(units / seconds), task_.unit(), lr,
                        format_duration(step_seconds_ema_ * static_cast<double>(total_steps_ - step_)));
    progress_.show(text, /*force=*/step_ == total_steps_);
  }
  if (options_.on_step)
    options_.on_step({.step = step_, .loss = loss, .grad_norm = norm, .lr = lr, .skipped = !finite, .units = units});
}

void Trainer::log_train_record() {
  if (window_.steps == 0) return;
  const double loss = window_.finite_steps > 0 ? window_.loss_sum / static_cast<double>(window_.finite_steps) : NAN;
  const double grad_norm =
      window_.finite_steps > 0 ? window_.grad_norm_sum / static_cast<double>(window_.finite_steps) : NAN;
  const double rate = window_.seconds > 0 ? window_.units / window_.seconds : 0.0;
  const Device device = params_.empty() ? Device::cpu() : params_.front().device();
  const MemoryStats mem = memory_stats(device);

  nlohmann::ordered_json record;
  record["type"] = "train";
  record["step"] = step_;
  if (steps_per_epoch_ > 0) record["epoch"] = static_cast<double>(step_) / static_cast<double>(steps_per_epoch_);
  record["lr"] = last_lr_;
  record["loss"] = loss;
  std::map<std::string, double> loss_metrics = task_.loss_metrics(loss);
  for (const auto& [k, v] : loss_metrics) record[k] = v;
  record["grad_norm"] = grad_norm;
  record[task_.unit() + "_per_s"] = rate;
  record["step_seconds"] = window_.seconds / static_cast<double>(window_.steps);
  record["nonfinite_skipped"] = window_.skipped;
  record["nonfinite_total"] = nonfinite_total_;
  record["mem_mb"] = static_cast<double>(mem.current) / (1 << 20);
  record["peak_mem_mb"] = static_cast<double>(mem.peak) / (1 << 20);
  for (const auto& [k, v] : task_.extra_metrics()) record[k] = v;
  metrics_.write(record);

  std::string line = fmt::format("step {}/{}", step_, total_steps_);
  if (steps_per_epoch_ > 0) line += fmt::format(" | epoch {:.2f}", record["epoch"].get<double>());
  line += fmt::format(" | loss {:.4f}", loss);
  for (const auto& [k, v] : loss_metrics) line += fmt::format(" | {} {:.2f}", k, v);
  line += fmt::format(" | grad norm {:.3f} | lr {:.3e} | {} {}/s | {:.0f} MB", grad_norm, last_lr_, format_count(rate),
                      task_.unit(), record["mem_mb"].get<double>());
  if (window_.skipped > 0) line += fmt::format(" | {} non-finite steps skipped", window_.skipped);
  info(line);
  window_ = Window{};
}

void Trainer::evaluate() {
  const auto start = Clock::now();
  EvalResult result;
  {
    NoGradGuard no_grad;
    task_.model().eval();
    result = task_.evaluate(cfg_.eval_split, cfg_.eval_max_batches);
    task_.model().train();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  last_eval_step_ = step_;
  const bool improved = std::isfinite(result.loss) && result.loss < best_loss_;
  if (improved) {
    best_loss_ = result.loss;
    best_step_ = step_;
  }
  nlohmann::ordered_json record;
  record["type"] = "eval";
  record["split"] = cfg_.eval_split;
  record["step"] = step_;
  if (steps_per_epoch_ > 0) record["epoch"] = static_cast<double>(step_) / static_cast<double>(steps_per_epoch_);
  record["loss"] = result.loss;
  for (const auto& [k, v] : result.metrics) record[k] = v;
  record["units"] = result.units;
  record["seconds"] = seconds;
  record["best"] = improved;
  metrics_.write(record);
  std::string line = fmt::format("eval {} at step {}: loss {:.4f}", cfg_.eval_split, step_, result.loss);
  for (const auto& [k, v] : result.metrics) line += fmt::format(" | {} {:.4f}", k, v);
  line += fmt::format(" | {:.1f} s{}", seconds, improved ? " | new best" : "");
  info(line);
  if (improved && cfg_.checkpoint.keep_best) checkpoints_.save("best", checkpoint_data());
}

NamedTensors Trainer::model_tensors() const {
  NamedTensors out = task_.model().named_parameters();
  for (auto& b : task_.model().named_buffers()) out.push_back(b);
  return out;
}

CheckpointData Trainer::checkpoint_data() const {
  CheckpointData data;
  data.model = model_tensors();
  data.optimizer = optimizer_->state_tensors();
  nlohmann::ordered_json& t = data.trainer;
  t["format"] = 1;
  t["version"] = options_.version;
  t["step"] = step_;
  if (steps_per_epoch_ > 0) t["epoch"] = static_cast<double>(step_) / static_cast<double>(steps_per_epoch_);
  t["total_steps"] = total_steps_;
  const kernels::PhiloxState rng = gen_.state();
  t["rng"] = {{"seed", rng.seed}, {"offset", rng.offset}};
  t["data"] = task_.data_state();
  t["best"] = best_step_ >= 0 ? nlohmann::ordered_json{{"loss", best_loss_}, {"step", best_step_}}
                              : nlohmann::ordered_json(nullptr);
  t["nonfinite"] = {{"total", nonfinite_total_}, {"in_a_row", nonfinite_in_a_row_}};
  t["log_window"] = {{"loss_sum", window_.loss_sum}, {"grad_norm_sum", window_.grad_norm_sum},
                     {"units", window_.units},       {"seconds", window_.seconds},
                     {"steps", window_.steps},       {"finite_steps", window_.finite_steps},
                     {"skipped", window_.skipped},   {"lr", last_lr_}};
  t["config"] = resolved_config_;
  data.config_yaml = config_yaml_;
  return data;
}

fs::path Trainer::save_checkpoint() {
  const auto start = Clock::now();
  const std::string name = CheckpointManager::step_name(step_);
  const fs::path dir = checkpoints_.save(name, checkpoint_data());
  checkpoints_.commit(name);
  last_checkpoint_step_ = step_;
  info(fmt::format("saved {} ({:.2f} s)", dir.string(), std::chrono::duration<double>(Clock::now() - start).count()));
  return dir;
}

void Trainer::load_checkpoint(const fs::path& dir) {
  LoadedCheckpoint ckpt = read_checkpoint(dir);
  const std::string trainer_json = (dir / "trainer.json").string();
  const nlohmann::ordered_json& t = ckpt.trainer;
  auto field = [&](const char* key) -> const nlohmann::ordered_json& {
    FF_USER_CHECK(t.contains(key), "{}: missing '{}'", trainer_json, key);
    return t[key];
  };
  try {
    const int64_t step = field("step").get<int64_t>();
    const auto& rng = field("rng");
    const kernels::PhiloxState state{rng.at("seed").get<uint64_t>(), rng.at("offset").get<uint64_t>()};
    const auto& nonfinite = field("nonfinite");
    const auto& window = field("log_window");
    FF_USER_CHECK(!ckpt.optimizer.tensors.empty(), "checkpoint '{}' has no optimizer state (optimizer.safetensors)",
                  dir.string());

    // Everything that can fail on bad input first; then the state changes.
    load_tensors_into(ckpt.model, model_tensors(), (dir / "model.safetensors").string());
    try {
      optimizer_->load_state_tensors(tensors_of(ckpt.optimizer));
    } catch (const UserError& e) {
      throw UserError(fmt::format("{}: {}", (dir / "optimizer.safetensors").string(), e.what()));
    }
    task_.load_data_state(field("data"));
    gen_.set_state(state);
    step_ = step;
    if (t.contains("best") && !t["best"].is_null()) {
      best_loss_ = t["best"].at("loss").get<double>();
      best_step_ = t["best"].at("step").get<int64_t>();
    }
    nonfinite_total_ = nonfinite.at("total").get<int64_t>();
    nonfinite_in_a_row_ = nonfinite.at("in_a_row").get<int64_t>();
    window_.loss_sum = window.at("loss_sum").get<double>();
    window_.grad_norm_sum = window.at("grad_norm_sum").get<double>();
    window_.units = window.at("units").get<double>();
    window_.seconds = window.at("seconds").get<double>();
    window_.steps = window.at("steps").get<int64_t>();
    window_.finite_steps = window.at("finite_steps").get<int64_t>();
    window_.skipped = window.at("skipped").get<int64_t>();
    last_lr_ = window.at("lr").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw UserError(fmt::format("{}: malformed trainer state ({})", trainer_json, e.what()));
  }
  if (t.contains("config") && t["config"] != resolved_config_) {
    std::vector<std::string> changed;
    auto flat_old = nlohmann::json(t["config"]).flatten(), flat_new = nlohmann::json(resolved_config_).flatten();
    for (auto& [k, v] : flat_new.items())
      if (!flat_old.contains(k) || flat_old[k] != v) changed.push_back(k);
    for (auto& [k, v] : flat_old.items())
      if (!flat_new.contains(k)) changed.push_back(k);
    std::string list;
    for (size_t i = 0; i < changed.size() && i < 8; ++i) list += (i ? ", " : "") + changed[i];
    if (changed.size() > 8) list += fmt::format(" and {} more", changed.size() - 8);
    spdlog::warn("the config differs from the checkpoint's in: {}", list);
  }
}

}  // namespace ff::train
