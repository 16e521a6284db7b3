#include "core/train/trainer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/autograd/autograd.h"
#include "core/dist/communicator.h"
#include "core/dist/grad_reducer.h"
#include "core/ops/elementwise.h"
#include "core/ops/view.h"
#include "core/optim/clip.h"
#include "core/tensor/storage.h"
#include "core/train/signals.h"

namespace ff::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using kernels::StepStat;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Seconds since the Unix epoch, for metrics.jsonl records.
double unix_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "a.b.c" from nlohmann's flattened "/a/b/c" (array indices stay as numbers: "a.betas.0").
std::string dotted(const std::string& pointer) {
  std::string out = pointer.substr(pointer.empty() || pointer[0] != '/' ? 0 : 1);
  std::replace(out.begin(), out.end(), '/', '.');
  return out;
}

double stat(const std::vector<double>& stats, StepStat which) { return stats[static_cast<size_t>(which)]; }

// Rank r's random stream in a data-parallel run: rank 0 keeps the run's (so checkpoints, which
// rank 0 writes, hold the run's own state), the others draw from other Philox keys at the same
// offsets, so dropout masks differ between ranks (as they would between the shards of one
// process's batch) and every rank's state follows from the saved one and its rank alone.
kernels::PhiloxState rank_stream(kernels::PhiloxState state, int rank) {
  if (rank == 0) return state;
  uint64_t z = state.seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(rank);  // splitmix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return {z ^ (z >> 31), state.offset};
}

}  // namespace

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
      progress_(options_.progress),
      comm_(options_.comm) {
  if (comm_) {
    world_ = comm_->size();
    writer_ = comm_->rank() == 0;
  }
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
  if (cfg_.optimizer.lr_reference_batch > 0) {
    const int64_t batch = task_.global_batch_size() * cfg_.grad_accum;
    const double base = cfg_.optimizer.lr;
    cfg_.optimizer.lr = base * static_cast<double>(batch) / static_cast<double>(cfg_.optimizer.lr_reference_batch);
    spdlog::info("lr {} x batch {} / {} = {} (train.optimizer.lr_reference_batch)", base, batch,
                 cfg_.optimizer.lr_reference_batch, cfg_.optimizer.lr);
  }
  optimizer_ = make_optimizer(cfg_.optimizer, task_.param_groups(cfg_.optimizer.no_decay));
  schedule_ = make_schedule(cfg_, total_steps_, steps_per_epoch_);
  params_ = task_.model().parameters();
  if (cfg_.precision == "bf16") autocast_ = DType::BF16;
  control_ = optim::StepControl(params_.empty() ? Device::cpu() : params_.front().device());
  host_stats_.assign(kernels::kStepStats, 0.0);
  if (comm_) {
    reducer_ = std::make_unique<dist::GradReducer>(
        params_, *comm_, static_cast<int64_t>(cfg_.distributed.bucket_mb * (1 << 20)));
    gen_.set_state(rank_stream(gen_.state(), comm_->rank()));
  }
}

Trainer::~Trainer() = default;

size_t Trainer::grad_buckets() const { return reducer_ ? reducer_->num_buckets() : 0; }

std::optional<double> Trainer::best_loss() const {
  if (best_step_ < 0) return std::nullopt;
  return best_loss_;
}

void Trainer::info(const std::string& message) {
  progress_.clear();
  spdlog::info("{}", message);
  progress_.redraw();
}

void Trainer::start() {
  if (started_) return;
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
  if (comm_) {
    // Every rank starts from rank 0's weights (a fresh start's initialisations agree already;
    // this makes it so whatever a task does), then their gradients keep them equal.
    std::vector<Tensor> tensors;
    for (auto& [name, t] : model_tensors()) tensors.push_back(t);
    dist::broadcast_tensors(*comm_, tensors, 0);
  }
  if (writer_) {
    checkpoints_.remove_stale_temps();
    metrics_ = MetricsWriter(cfg_.work_dir / "metrics.jsonl", step_);
  }
  started_ = true;
}

TrainOutcome Trainer::run() {
  start();
  info(fmt::format("training {} parameters for {} steps of {} micro-batch(es), from step {}{}{}",
                   task_.model().num_parameters(), total_steps_, cfg_.grad_accum, step_,
                   autocast_ ? " (mixed precision: bf16 compute, f32 weights)" : "",
                   reducer_ ? fmt::format("; data parallel over {} ranks ({}), {} gradient bucket(s)", world_,
                                          comm_->backend(), reducer_->num_buckets())
                            : ""));
  process_start_ = window_mark_ = Clock::now();
  first_step_ = step_;

  task_.model().train();
  try {
    while (step_ < total_steps_) {
      // Data parallel: the ranks agreed on it at the end of the last step.
      const int sig = stop_requested();
      if (reducer_ ? reducer_->stop_agreed() : sig != 0) {
        const fs::path dir = save_checkpoint();
        progress_.clear();
        spdlog::warn("{}: saved {} at step {}; exiting with code {} (resume with --resume)",
                     sig ? fmt::format("signal {} ({})", sig, strsignal(sig)) : std::string("a stop signal on another rank"),
                     dir.string(), step_, kExitStopped);
        return TrainOutcome::Stopped;
      }
      train_step();
      if (step_ % cfg_.log_interval == 0 || step_ == total_steps_) log_train_record();
      if ((cfg_.eval_interval > 0 && step_ % cfg_.eval_interval == 0) || step_ == total_steps_) evaluate();
      if ((cfg_.checkpoint.interval > 0 && step_ % cfg_.checkpoint.interval == 0) || step_ == total_steps_)
        save_checkpoint();
    }
  } catch (const TrainingDiverged&) {
    throw;  // the weights are those of the last good step; the regular checkpoints stand
  } catch (const std::exception&) {
    save_after_error();
    throw;
  }
  progress_.clear();
  spdlog::info("finished {} steps in {}{}", step_, format_duration(elapsed_seconds()),
               best_step_ >= 0
                   ? fmt::format("; best {} loss {:.4f} at step {}", cfg_.eval_split, best_loss_, best_step_)
                   : std::string());
  return TrainOutcome::Finished;
}

void Trainer::save_after_error() {
  progress_.clear();
  const std::string newest = last_checkpoint_step_ >= 0 ? fmt::format("step {}", last_checkpoint_step_) : "none";
  if (phase_ == Phase::Update || phase_ == Phase::Checkpoint) {
    spdlog::error("the error below came during {}: no checkpoint saved (the newest is {})",
                  phase_ == Phase::Update ? "an optimizer update" : "a checkpoint write", newest);
    return;
  }
  if (world_ > 1) {
    // The other ranks are inside a collective or will be: a checkpoint needs them all.
    spdlog::error("data parallel: no checkpoint saved after the error below (the newest is {}); the job stops",
                  newest);
    return;
  }
  if (phase_ == Phase::Forward) {
    // Back to the start of the unfinished step: its micro-batches are read again on resume.
    task_.load_data_state(step_start_data_);
    gen_.set_state(step_start_rng_);
    if (reducer_) reducer_->reset();
    optimizer_->zero_grad();
    phase_ = Phase::Boundary;
  }
  if (step_ == 0 || step_ == last_checkpoint_step_) return;  // nothing new to save
  try {
    const fs::path dir = save_checkpoint();
    spdlog::warn("saved {} at step {} before stopping on the error below; fix it and continue with --resume",
                 dir.string(), step_);
  } catch (const std::exception& e) {
    spdlog::error("could not save a checkpoint after the error below ({}); the newest is {}", e.what(), newest);
  }
}

void Trainer::train_step() {
  const auto start = Clock::now();
  step_start_data_ = task_.data_state();
  step_start_rng_ = gen_.state();
  phase_ = Phase::Forward;
  task_.begin_step(step_);

  const double lr = schedule_->lr_at(step_);
  optimizer_->set_lr(lr);
  Tensor loss_sum;
  double units = 0;
  // Data parallel: each rank's loss is its shard's mean, so 1/W turns the ranks' summed
  // gradients into the global batch's.
  const double scale = 1.0 / static_cast<double>(cfg_.grad_accum * world_);
  for (int64_t i = 0; i < cfg_.grad_accum; ++i) {
    LossOutput out;
    {
      AutocastGuard autocast(autocast_);
      out = task_.train_loss();
    }
    FF_CHECK(out.loss.defined() && out.loss.numel() == 1, "Task::train_loss must return a scalar loss, got {}",
             out.loss.defined() ? out.loss.str() : "an undefined tensor");
    {
      NoGradGuard no_grad;
      const Tensor detached = out.loss.detach();
      loss_sum = loss_sum.defined() ? add(loss_sum, detached) : detached;
      // The last micro-batch's backward pass launches the buckets; the loss sum goes with them.
      if (reducer_ && i + 1 == cfg_.grad_accum) reducer_->arm(mul(loss_sum, 1.0 / static_cast<double>(world_)));
    }
    Tensor scaled = scale == 1.0 ? out.loss : mul(out.loss, scale);
    scaled.backward();
    units += out.units * static_cast<double>(world_);  // equal shards: the global batch's units
  }
  if (reducer_) {
    reducer_->finish(stop_requested() != 0);
    NoGradGuard no_grad;
    // A copy: the reducer's slot is overwritten by the next step, this one is read later.
    const Tensor& reduced = reducer_->loss();
    loss_sum = Tensor::empty({}, reduced.dtype(), reduced.device());
    copy_(loss_sum, reduced);
  }
  const double max_norm = cfg_.clip_grad_norm > 0 ? cfg_.clip_grad_norm : std::numeric_limits<double>::infinity();
  Tensor norm = optim::grad_norm(params_);
  if (!norm.defined()) norm = Tensor::zeros({}, DType::F32, control_.control.device());
  const int64_t this_step = step_ + 1;
  // nonfinite.policy abort is a limit of one.
  const int64_t limit = cfg_.nonfinite.policy == "abort" ? 1 : cfg_.nonfinite.max_in_a_row;

  phase_ = Phase::Update;
  optim::decide_step(loss_sum, norm, 1.0 / static_cast<double>(cfg_.grad_accum), max_norm, this_step, limit,
                     control_);
  optimizer_->step(control_.control);
  optimizer_->zero_grad();
  step_ = this_step;
  last_lr_ = lr;
  last_loss_sum_ = loss_sum;
  phase_ = Phase::Boundary;

  window_.steps += 1;
  window_.units += units;
  units_processed_ += units;

  if (progress_.enabled() && (progress_.due() || step_ == total_steps_)) {
    // A host read, at most as often as the line is redrawn (only on a terminal).
    const double loss = loss_sum.item() / static_cast<double>(cfg_.grad_accum);
    const double done = static_cast<double>(step_ - first_step_);
    const double eta = done > 0 ? seconds_since(process_start_) / done * static_cast<double>(total_steps_ - step_) : NAN;
    std::string text = fmt::format("step {}/{} | loss {:.4f}", step_, total_steps_, loss);
    for (const auto& [k, v] : task_.loss_metrics(loss)) text += fmt::format(" | {} {:.2f}", k, v);
    text += fmt::format(" | {} {}/s | lr {:.2e} | elapsed {} | ETA {}",
                        format_count(units / std::chrono::duration<double>(Clock::now() - start).count()),
                        task_.unit(), lr, format_duration(elapsed_seconds()), format_duration(eta));
    progress_.show(text, /*force=*/step_ == total_steps_);
  }
  if (options_.on_step) {
    const double loss = loss_sum.item() / static_cast<double>(cfg_.grad_accum);
    const std::vector<float> control = control_.control.to_vector<float>();
    options_.on_step({.step = step_,
                      .loss = loss,
                      .grad_norm = to_dtype(norm, DType::F64).item(),
                      .lr = lr,
                      .skipped = control[1] == 0.0f,
                      .units = units});
  }
}

double Trainer::last_loss() const {
  return last_loss_sum_.defined() ? last_loss_sum_.item() / static_cast<double>(cfg_.grad_accum) : NAN;
}

double Trainer::elapsed_seconds() const { return elapsed_before_ + seconds_since(process_start_); }

void Trainer::mark_window_time() {
  const auto now = Clock::now();
  window_.seconds += std::chrono::duration<double>(now - window_mark_).count();
  window_mark_ = now;
}

void Trainer::sync_stats() {
  host_stats_ = to_dtype(control_.stats, DType::F64).to_vector<double>();
  if (const double at = stat(host_stats_, kernels::kLimitStep); at != 0) {
    const int64_t step = static_cast<int64_t>(at);
    if (cfg_.nonfinite.policy == "abort")
      throw TrainingDiverged(fmt::format(
          "step {}: non-finite loss or gradient norm; stopping (train.nonfinite.policy: abort). The weights are "
          "those of step {}; the newest checkpoint is {}",
          step, step - 1, last_checkpoint_step_ >= 0 ? fmt::format("step {}", last_checkpoint_step_) : "none"));
    throw TrainingDiverged(
        fmt::format("step {}: {} non-finite steps in a row; stopping (train.nonfinite.max_in_a_row: {}). The newest "
                    "checkpoint is {}",
                    step, cfg_.nonfinite.max_in_a_row, cfg_.nonfinite.max_in_a_row,
                    last_checkpoint_step_ >= 0 ? fmt::format("step {}", last_checkpoint_step_) : "none"));
  }
}

void Trainer::reset_window_stats() {
  for (StepStat s : {kernels::kLossSum, kernels::kNormSum, kernels::kFiniteSteps, kernels::kSkippedSteps,
                     kernels::kFirstSkipped, kernels::kLimitStep})
    host_stats_[s] = 0;
  Tensor stats = control_.stats;
  copy_(stats, Tensor::from_vector<double>(host_stats_, {kernels::kStepStats}));
}

void Trainer::log_train_record() {
  if (window_.steps == 0) return;
  sync_stats();
  mark_window_time();
  const double finite = stat(host_stats_, kernels::kFiniteSteps);
  const int64_t skipped = static_cast<int64_t>(stat(host_stats_, kernels::kSkippedSteps));
  const double loss = finite > 0 ? stat(host_stats_, kernels::kLossSum) / finite : NAN;
  const double grad_norm = finite > 0 ? stat(host_stats_, kernels::kNormSum) / finite : NAN;
  const double rate = window_.seconds > 0 ? window_.units / window_.seconds : 0.0;
  const Device device = params_.empty() ? Device::cpu() : params_.front().device();
  const MemoryStats mem = memory_stats(device);
  const double elapsed = elapsed_seconds();
  const double done = static_cast<double>(step_ - first_step_);
  const double eta = done > 0 ? seconds_since(process_start_) / done * static_cast<double>(total_steps_ - step_) : NAN;

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
  record["nonfinite_skipped"] = skipped;
  record["nonfinite_total"] = static_cast<int64_t>(stat(host_stats_, kernels::kNonfiniteTotal));
  record["mem_mb"] = static_cast<double>(mem.current) / (1 << 20);
  record["peak_mem_mb"] = static_cast<double>(mem.peak) / (1 << 20);
  for (const auto& [k, v] : task_.extra_metrics()) record[k] = v;
  record["time"] = unix_time();
  record["elapsed_s"] = elapsed;
  metrics_.write(record);

  std::string line = fmt::format("step {}/{}", step_, total_steps_);
  if (steps_per_epoch_ > 0) line += fmt::format(" | epoch {:.2f}", record["epoch"].get<double>());
  line += fmt::format(" | loss {:.4f}", loss);
  for (const auto& [k, v] : loss_metrics) line += fmt::format(" | {} {:.2f}", k, v);
  line += fmt::format(" | grad norm {:.3f} | lr {:.3e} | {} {}/s | {:.0f} MB | elapsed {} | ETA {}", grad_norm,
                      last_lr_, format_count(rate), task_.unit(), record["mem_mb"].get<double>(),
                      format_duration(elapsed), format_duration(eta));
  if (skipped > 0)
    line += fmt::format(" | {} non-finite step{} skipped (first at step {})", skipped, skipped == 1 ? "" : "s",
                        static_cast<int64_t>(stat(host_stats_, kernels::kFirstSkipped)));
  progress_.clear();
  spdlog::log(skipped > 0 ? spdlog::level::warn : spdlog::level::info, "{}", line);
  progress_.redraw();
  window_ = Window{};
  reset_window_stats();
}

void Trainer::evaluate() {
  mark_window_time();
  const auto start = Clock::now();
  EvalResult result;
  {
    NoGradGuard no_grad;
    AutocastGuard autocast(autocast_);
    task_.model().eval();
    EvalProgressLine line(progress_, fmt::format("eval {} at step {}", cfg_.eval_split, step_));
    result = task_.evaluate(cfg_.eval_split, cfg_.eval_max_batches, line.callback());
    task_.model().train();
  }
  const double seconds = seconds_since(start);
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
  record["time"] = unix_time();
  record["elapsed_s"] = elapsed_seconds();
  metrics_.write(record);
  std::string line = fmt::format("eval {} at step {}: loss {:.4f}", cfg_.eval_split, step_, result.loss);
  for (const auto& [k, v] : result.metrics) line += fmt::format(" | {} {:.4f}", k, v);
  line += fmt::format(" | {:.1f} s{}", seconds, improved ? " | new best" : "");
  info(line);
  if (improved && cfg_.checkpoint.keep_best && writer_) {
    phase_ = Phase::Checkpoint;
    checkpoints_.save("best", checkpoint_data());
    phase_ = Phase::Boundary;
  }
  window_mark_ = Clock::now();
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
  t["world_size"] = world_;
  t["step"] = step_;
  if (steps_per_epoch_ > 0) t["epoch"] = static_cast<double>(step_) / static_cast<double>(steps_per_epoch_);
  t["total_steps"] = total_steps_;
  t["elapsed_s"] = started_ && process_start_ != Clock::time_point{} ? elapsed_seconds() : elapsed_before_;
  const kernels::PhiloxState rng = gen_.state();
  t["rng"] = {{"seed", rng.seed}, {"offset", rng.offset}};
  t["data"] = task_.data_state();
  t["best"] = best_step_ >= 0 ? nlohmann::ordered_json{{"loss", best_loss_}, {"step", best_step_}}
                              : nlohmann::ordered_json(nullptr);
  // The device's statistics as of the last sync (checkpoints sync first).
  t["nonfinite"] = {{"total", static_cast<int64_t>(stat(host_stats_, kernels::kNonfiniteTotal))},
                    {"in_a_row", static_cast<int64_t>(stat(host_stats_, kernels::kNonfiniteInARow))}};
  t["log_window"] = {{"loss_sum", stat(host_stats_, kernels::kLossSum)},
                     {"grad_norm_sum", stat(host_stats_, kernels::kNormSum)},
                     {"finite_steps", static_cast<int64_t>(stat(host_stats_, kernels::kFiniteSteps))},
                     {"skipped", static_cast<int64_t>(stat(host_stats_, kernels::kSkippedSteps))},
                     {"first_skipped", static_cast<int64_t>(stat(host_stats_, kernels::kFirstSkipped))},
                     {"units", window_.units},
                     {"seconds", window_.seconds},
                     {"steps", window_.steps},
                     {"lr", last_lr_}};
  t["config"] = resolved_config_;
  data.config_yaml = config_yaml_;
  return data;
}

fs::path Trainer::save_checkpoint() {
  mark_window_time();
  sync_stats();
  const auto start = Clock::now();
  phase_ = Phase::Checkpoint;
  const std::string name = CheckpointManager::step_name(step_);
  fs::path dir = checkpoints_.dir() / name;
  if (writer_) {
    dir = checkpoints_.save(name, checkpoint_data());
    checkpoints_.commit(name);
  }
  // No rank goes on (or exits after a stop signal) before the checkpoint is complete.
  if (comm_) comm_->barrier();
  phase_ = Phase::Boundary;
  last_checkpoint_step_ = step_;
  info(fmt::format("saved {} ({:.2f} s)", dir.string(), seconds_since(start)));
  window_mark_ = Clock::now();
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
    std::vector<double> stats(kernels::kStepStats, 0.0);
    stats[kernels::kLossSum] = window.at("loss_sum").get<double>();
    stats[kernels::kNormSum] = window.at("grad_norm_sum").get<double>();
    stats[kernels::kFiniteSteps] = static_cast<double>(window.at("finite_steps").get<int64_t>());
    stats[kernels::kSkippedSteps] = static_cast<double>(window.at("skipped").get<int64_t>());
    stats[kernels::kFirstSkipped] = static_cast<double>(window.value("first_skipped", int64_t{0}));
    stats[kernels::kNonfiniteTotal] = static_cast<double>(nonfinite.at("total").get<int64_t>());
    stats[kernels::kNonfiniteInARow] = static_cast<double>(nonfinite.at("in_a_row").get<int64_t>());
    Window host_window{.units = window.at("units").get<double>(),
                       .seconds = window.at("seconds").get<double>(),
                       .steps = window.at("steps").get<int64_t>()};
    const double lr = window.at("lr").get<double>();
    const double elapsed = t.value("elapsed_s", 0.0);

    // Everything that can fail on bad input first; then the state changes.
    load_tensors_into(ckpt.model, model_tensors(), (dir / "model.safetensors").string());
    try {
      optimizer_->load_state_tensors(tensors_of(ckpt.optimizer));
    } catch (const UserError& e) {
      throw UserError(fmt::format("{}: {}", (dir / "optimizer.safetensors").string(), e.what()));
    }
    task_.load_data_state(field("data"));
    gen_.set_state(comm_ ? rank_stream(state, comm_->rank()) : state);
    step_ = step;
    if (const int64_t saved_world = t.value("world_size", int64_t{1}); saved_world != world_)
      info(fmt::format("the checkpoint was written by {} process(es), this run has {}: the global batch stays the "
                       "config's, each process reads its share of it",
                       saved_world, world_));
    if (t.contains("best") && !t["best"].is_null()) {
      best_loss_ = t["best"].at("loss").get<double>();
      best_step_ = t["best"].at("step").get<int64_t>();
    }
    host_stats_ = stats;
    Tensor device_stats = control_.stats;
    copy_(device_stats, Tensor::from_vector<double>(stats, {kernels::kStepStats}));
    window_ = host_window;
    last_lr_ = lr;
    elapsed_before_ = elapsed;
    last_checkpoint_step_ = step;
  } catch (const nlohmann::json::exception& e) {
    throw UserError(fmt::format("{}: malformed trainer state ({})", trainer_json, e.what()));
  }
  if (t.contains("config") && t["config"] != resolved_config_) {
    std::vector<std::string> changed;
    auto flat_old = nlohmann::json(t["config"]).flatten(), flat_new = nlohmann::json(resolved_config_).flatten();
    for (auto& [k, v] : flat_new.items())
      if (!flat_old.contains(k) || flat_old[k] != v) changed.push_back(dotted(k));
    for (auto& [k, v] : flat_old.items())
      if (!flat_new.contains(k)) changed.push_back(dotted(k));
    std::string list;
    for (size_t i = 0; i < changed.size() && i < 8; ++i) list += (i ? ", " : "") + changed[i];
    if (changed.size() > 8) list += fmt::format(" and {} more", changed.size() - 8);
    spdlog::warn("the config differs from the checkpoint's in: {}", list);
  }
}

}  // namespace ff::train
