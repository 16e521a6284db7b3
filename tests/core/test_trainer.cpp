// The generic trainer on a tiny task made here (an MLP classifier with dropout on a fixed
// synthetic data set, shuffled per epoch): repeatable seeds, gradient clipping, bit-exact
// resume, checkpoint retention, a SIGKILL during a checkpoint write, non-finite steps, SIGTERM,
// and the app shell's exit codes.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <thread>

#include "core/nn/nn.h"
#include "core/ops/ops.h"
#include "core/train/checkpoint.h"
#include "core/train/run.h"
#include "core/train/signals.h"
#include "core/train/trainer.h"
#include "data/temp_dir.h"
#include "support/skip.h"

#ifdef FF_WITH_CUDA
#include "core/cuda/context.h"
#endif

using namespace ff;
using namespace ff::train;
using ff::data::testing::TempDir;
namespace fs = std::filesystem;

namespace {

struct ToyOptions {
  int64_t hidden = 16;
  double dropout = 0.1;
  int64_t batch_size = 8;
  int64_t examples = 48;
  std::set<int64_t> nan_calls;  // train_loss calls (1-based) whose loss is NaN
  int64_t sigterm_at = 0;       // train_loss call that raises SIGTERM (0: never)
  int64_t sigint_at = 0;        // train_loss call that raises SIGINT (0: never)
  int64_t fail_at = 0;          // train_loss call that throws ff::UserError (0: never)
  int64_t fail_eval_at = 0;     // evaluate call that throws ff::UserError (0: never)
};

struct ToyModel : nn::UnaryModule {
  ToyModel(int64_t hidden, double dropout, Generator& gen) {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(4, hidden, gen));
    drop = register_module("drop", std::make_shared<nn::Dropout>(dropout, gen));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(hidden, 3, gen));
  }
  Tensor forward(const Tensor& x) override { return fc2->forward(drop->forward(gelu(fc1->forward(x)))); }
  std::shared_ptr<nn::Linear> fc1, fc2;
  std::shared_ptr<nn::Dropout> drop;
};

// 3 classes from a fixed random linear map of 4 features; batches in a per-epoch shuffled order
// that depends only on (epoch), so the data position is (epoch, index, calls).
class ToyTask : public Task {
 public:
  ToyTask(const TaskContext& ctx, ToyOptions options) : options_(std::move(options)), device_(ctx.device) {
    model_ = std::make_shared<ToyModel>(options_.hidden, options_.dropout, ctx.gen);
    model_->to(device_);
    std::mt19937_64 rng(42);
    std::normal_distribution<float> normal;
    const int64_t n = options_.examples;
    x_.resize(n * 4);
    y_.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      float score[3] = {0, 0, 0};
      for (int d = 0; d < 4; ++d) {
        x_[i * 4 + d] = normal(rng);
        for (int c = 0; c < 3; ++c) score[c] += x_[i * 4 + d] * static_cast<float>((c + 1) * (d % 2 ? 1 : -1) + d);
      }
      y_[i] = std::max_element(score, score + 3) - score;
    }
  }

  nn::Module& model() override { return *model_; }
  int64_t batches_per_epoch() const override { return options_.examples / options_.batch_size; }
  std::string unit() const override { return "examples"; }
  int64_t global_batch_size() const override { return options_.batch_size; }

  LossOutput train_loss() override {
    ++calls_;
    if (options_.sigterm_at == calls_) ::raise(SIGTERM);
    if (options_.sigint_at == calls_) ::raise(SIGINT);
    if (options_.fail_at == calls_) throw UserError(fmt::format("toy data: batch {} is corrupt", calls_));
    if (index_ >= batches_per_epoch()) {
      index_ = 0;
      ++epoch_;
    }
    std::vector<int64_t> order(options_.examples);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(1000 + epoch_));
    const int64_t b = options_.batch_size;
    std::vector<float> xb(b * 4);
    std::vector<int64_t> yb(b);
    for (int64_t i = 0; i < b; ++i) {
      const int64_t e = order[index_ * b + i];
      std::copy(&x_[e * 4], &x_[e * 4 + 4], &xb[i * 4]);
      yb[i] = y_[e];
    }
    ++index_;
    Tensor loss = cross_entropy(model_->forward(to_device(Tensor::from_vector(xb, {b, 4}), device_)),
                                to_device(Tensor::from_vector(yb, {b}), device_));
    if (options_.nan_calls.count(calls_)) loss = mul(loss, std::nan(""));
    return {loss, static_cast<double>(b)};
  }

  void check_split(const std::string& split) const override {
    FF_USER_CHECK(split == "valid" || split == "test", "toy task: no split '{}'", split);
  }
  EvalResult evaluate(const std::string& split, int64_t max_batches, const EvalProgress&) override {
    if (++eval_calls_ == options_.fail_eval_at) throw UserError("toy data: the valid split is unreadable");
    Tensor x = to_device(Tensor::from_vector(x_, {options_.examples, 4}), device_);
    Tensor y = to_device(Tensor::from_vector(y_, {options_.examples}), device_);
    const double loss = cross_entropy(model_->forward(x), y).item();
    return {.loss = loss, .units = static_cast<double>(options_.examples), .metrics = {{"ppl", std::exp(loss)}}};
  }
  std::map<std::string, double> loss_metrics(double loss) const override { return {{"ppl", std::exp(loss)}}; }
  std::map<std::string, double> extra_metrics() override {
    return {{"fc1_weight_0", model_->fc1->weight.to_vector<float>()[0]}};
  }

  nlohmann::json data_state() const override { return {{"epoch", epoch_}, {"index", index_}, {"calls", calls_}}; }
  void load_data_state(const nlohmann::json& s) override {
    FF_USER_CHECK(s.contains("epoch") && s.contains("index") && s.contains("calls"), "bad toy data state {}", s.dump());
    epoch_ = s["epoch"];
    index_ = s["index"];
    calls_ = s["calls"];
  }

  std::shared_ptr<ToyModel> model_;

 private:
  ToyOptions options_;
  Device device_;
  std::vector<float> x_;
  std::vector<int64_t> y_;
  int64_t epoch_ = 0, index_ = 0, calls_ = 0, eval_calls_ = 0;
};

TaskFactory toy_factory() {
  return [](const config::Section& root) -> TaskBuilder {
    ToyOptions o;
    const config::Section m = root.section("model");
    o.hidden = m.get<int64_t>("hidden", o.hidden, config::at_least(1));
    o.dropout = m.get<double>("dropout", o.dropout, config::probability());
    auto nan_calls = m.get<std::vector<int64_t>>("nan_calls", {});
    o.nan_calls = {nan_calls.begin(), nan_calls.end()};
    o.sigterm_at = m.get<int64_t>("sigterm_at", 0);
    o.sigint_at = m.get<int64_t>("sigint_at", 0);
    o.fail_at = m.get<int64_t>("fail_at", 0);
    o.fail_eval_at = m.get<int64_t>("fail_eval_at", 0);
    o.batch_size = root.section("data").get<int64_t>("batch_size", o.batch_size, config::at_least(1));
    return [o](const TaskContext& ctx) { return std::make_unique<ToyTask>(ctx, o); };
  };
}

// A config for the toy task; `model` is appended to the model: section.
std::string toy_config(const fs::path& work_dir, const std::string& model = "") {
  return "seed: 7\nwork_dir: " + work_dir.string() + "\ndevice: cpu\nmodel:\n  hidden: 16\n" + model +
         "data:\n  batch_size: 8\n"
         "train:\n  max_steps: 12\n  grad_accum: 2\n  clip_grad_norm: 1.0\n  log_interval: 4\n  eval_interval: 4\n"
         "  optimizer: {name: adamw, lr: 0.01, weight_decay: 0.01}\n"
         "  scheduler: {name: cosine, warmup: 3, min_lr: 0.0001}\n"
         "  checkpoint: {interval: 4, keep_last: 2}\n";
}

struct Run {
  std::vector<StepRecord> steps;
  TrainOutcome outcome = TrainOutcome::Finished;
  std::vector<std::vector<float>> initial_weights, weights;
  std::vector<std::string> weight_names;  // parallel to weights
  std::vector<std::vector<float>> optimizer_state;
};

// Parses the config text as the app does and trains in-process.
Run train_toy(const std::string& config_text, const std::vector<std::string>& overrides = {},
              TrainerOptions options = {}, int64_t stop_after = 0, Device device = Device::cpu()) {
  clear_stop_request();
  config::Document doc = config::Document::from_string(config_text, "toy.yaml");
  doc.apply_overrides(overrides);
  TrainConfig cfg = parse_train_config(doc.root(), "toy");
  TaskBuilder build = toy_factory()(doc.root());
  doc.check_no_unknown_keys();
  Generator gen(cfg.seed);
  TaskContext ctx{.train = cfg, .device = device, .gen = gen, .work_dir = cfg.work_dir};
  std::unique_ptr<Task> task = build(ctx);
  Run run;
  for (const Tensor& p : task->model().parameters()) run.initial_weights.push_back(p.to_vector<float>());
  options.on_step = [&](const StepRecord& r) {
    run.steps.push_back(r);
    if (stop_after > 0 && r.step == stop_after) request_stop(SIGUSR1);
  };
  Trainer trainer(cfg, *task, gen, doc.resolved(), options);
  run.outcome = trainer.run();
  for (const auto& [name, p] : task->model().named_parameters()) {
    run.weights.push_back(p.to_vector<float>());
    run.weight_names.push_back(name);
  }
  for (const auto& [name, t] : trainer.optimizer().state_tensors())
    if (name != "step") run.optimizer_state.push_back(t.to_vector<float>());
  clear_stop_request();
  return run;
}

std::vector<double> losses(const std::vector<StepRecord>& steps) {
  std::vector<double> out;
  for (const auto& s : steps) out.push_back(s.loss);
  return out;
}

std::vector<nlohmann::json> read_jsonl(const fs::path& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace

TEST_CASE("Two runs with the same seed give identical losses, another seed differs", "[trainer]") {
  TempDir a, b, c;
  Run first = train_toy(toy_config(a.path()));
  Run second = train_toy(toy_config(b.path()));
  REQUIRE(first.steps.size() == 12);
  CHECK(losses(first.steps) == losses(second.steps));
  CHECK(first.weights == second.weights);
  CHECK(first.steps.back().loss < first.steps.front().loss);  // it learns
  Run third = train_toy(toy_config(c.path()), {"seed=8"});
  CHECK(losses(third.steps) != losses(first.steps));
}

TEST_CASE("clip_grad_norm bounds the update: SGD at lr 1 moves the weights by exactly the clip norm", "[trainer]") {
  // Plain SGD (no momentum, no weight decay) at a constant lr of 1: the update is minus the
  // clipped gradient, so the weights' change is what the trainer clipped the gradient to.
  auto one_step = [](double clip) {
    TempDir dir;
    return train_toy(toy_config(dir.path(), "  dropout: 0.0\n"),
                     {"train.max_steps=1", "train.grad_accum=1", "train.optimizer.name=sgd", "train.optimizer.lr=1",
                      "train.optimizer.momentum=0", "train.optimizer.weight_decay=0", "train.scheduler.name=constant",
                      "train.scheduler.warmup=0", fmt::format("train.clip_grad_norm={}", clip)});
  };
  auto change = [](const Run& run) {
    std::vector<double> d;
    for (size_t i = 0; i < run.weights.size(); ++i)
      for (size_t j = 0; j < run.weights[i].size(); ++j)
        d.push_back(static_cast<double>(run.weights[i][j]) - static_cast<double>(run.initial_weights[i][j]));
    return d;
  };
  auto l2 = [](const std::vector<double>& v) { return std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0)); };

  const double clip = 0.01;
  const Run clipped = one_step(clip), unclipped = one_step(0);  // 0: no clipping
  REQUIRE(clipped.steps.size() == 1);
  REQUIRE(unclipped.steps.size() == 1);
  const double raw = unclipped.steps[0].grad_norm;
  REQUIRE(raw > 10 * clip);
  CHECK(clipped.steps[0].grad_norm == raw);  // the logged norm is the one before clipping
  const std::vector<double> dc = change(clipped), du = change(unclipped);
  // Float tolerance: each weight is rounded to float after the update (about 3e-8 at |w| < 0.5).
  CHECK(l2(du) == Approx(raw).epsilon(1e-5));
  CHECK(l2(dc) == Approx(clip).epsilon(1e-4));
  // The whole gradient is scaled (a global norm), not each element clipped: same direction.
  double worst = 0;
  for (size_t i = 0; i < dc.size(); ++i) worst = std::max(worst, std::abs(dc[i] - du[i] * clip / raw));
  CHECK(worst < 1e-7);
}

TEST_CASE("Stopping at step N and resuming reproduces the straight run bit for bit", "[trainer]") {
  TempDir straight_dir, resumed_dir;
  Run straight = train_toy(toy_config(straight_dir.path()));

  // A stop request (as SIGUSR1) after step 6: checkpoint step-000006, outcome Stopped.
  Run part1 = train_toy(toy_config(resumed_dir.path()), {}, {}, /*stop_after=*/6);
  CHECK(part1.outcome == TrainOutcome::Stopped);
  REQUIRE(part1.steps.size() == 6);
  CHECK(fs::exists(resumed_dir / "checkpoints/step-000006/model.safetensors"));
  CHECK(data::testing::read_file(resumed_dir / "checkpoints/latest") == "step-000006\n");

  TrainerOptions resume;
  resume.resume = true;
  Run part2 = train_toy(toy_config(resumed_dir.path()), {}, resume);
  CHECK(part2.outcome == TrainOutcome::Finished);
  REQUIRE(part2.steps.size() == 6);
  CHECK(part2.steps.front().step == 7);

  std::vector<double> joined = losses(part1.steps);
  for (double l : losses(part2.steps)) joined.push_back(l);
  CHECK(joined == losses(straight.steps));  // exact equality: same bits
  CHECK(part2.weights == straight.weights);
  CHECK(part2.optimizer_state == straight.optimizer_state);

  // The log records (means over log windows that straddle the stop) match too.
  auto strip = [](std::vector<nlohmann::json> records) {
    std::vector<nlohmann::json> out;
    for (auto& r : records) out.push_back({{"type", r["type"]}, {"step", r["step"]}, {"loss", r["loss"]}});
    return out;
  };
  CHECK(strip(read_jsonl(resumed_dir / "metrics.jsonl")) == strip(read_jsonl(straight_dir / "metrics.jsonl")));
}

TEST_CASE("Resuming from an explicit checkpoint path continues from that step", "[trainer]") {
  TempDir straight_dir, other_dir;
  Run straight = train_toy(toy_config(straight_dir.path(), "  dropout: 0.0\n"));
  // step-000008 is kept (keep_last 2: steps 8 and 12).
  TrainerOptions resume;
  resume.resume = true;
  resume.resume_from = straight_dir / "checkpoints/step-000008";
  Run tail = train_toy(toy_config(other_dir.path(), "  dropout: 0.0\n"), {}, resume);
  REQUIRE(tail.steps.size() == 4);
  CHECK(tail.steps.front().step == 9);
  const std::vector<double> all = losses(straight.steps);
  CHECK(losses(tail.steps) == std::vector<double>(all.begin() + 8, all.end()));
  CHECK(tail.weights == straight.weights);
}

TEST_CASE("Checkpoints: keep_last step checkpoints, the best by validation loss, latest", "[trainer]") {
  TempDir dir;
  train_toy(toy_config(dir.path()), {"train.eval_interval=2", "train.checkpoint.interval=2", "train.max_steps=14"});
  const fs::path ckpts = dir / "checkpoints";
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(ckpts)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"best", "latest", "step-000012", "step-000014"});
  CHECK(CheckpointManager(ckpts, 2).latest() == ckpts / "step-000014");

  // best/ holds the step with the lowest eval loss in metrics.jsonl.
  double best_loss = INFINITY;
  int64_t best_step = -1;
  int evals = 0;
  for (const auto& r : read_jsonl(dir / "metrics.jsonl"))
    if (r["type"] == "eval") {
      ++evals;
      if (r["loss"].get<double>() < best_loss) best_loss = r["loss"], best_step = r["step"];
    }
  CHECK(evals == 7);
  LoadedCheckpoint best = read_checkpoint(ckpts / "best");
  CHECK(best.trainer["step"] == best_step);
  CHECK(best.trainer["best"]["loss"] == best_loss);
  // Each checkpoint carries the resolved config, as YAML and in trainer.json.
  CHECK(fs::exists(ckpts / "best/config.yaml"));
  CHECK(best.trainer["config"]["train"]["max_steps"] == 14);
  CHECK(best.trainer["config"]["train"]["optimizer"]["eps"] == 1e-8);
}

TEST_CASE("A process killed while writing a checkpoint leaves the previous one loadable", "[trainer]") {
  TempDir dir;
  const fs::path ckpts = dir / "checkpoints";
  // 4M floats (16 MB) so that a write takes a while; every element of checkpoint k equals k.
  const int64_t n = 1 << 22;
  Tensor weights = Tensor::from_vector(std::vector<float>(n, 0.0f), {n});
  for (int delay_ms : {0, 5, 20, 60}) {
    fs::remove_all(ckpts);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Only file I/O and plain memory writes here (no threads after fork).
      CheckpointManager manager(ckpts, 2);
      for (int64_t k = 1;; ++k) {
        float* w = weights.data<float>();
        for (int64_t i = 0; i < n; ++i) w[i] = static_cast<float>(k);
        CheckpointData data{
            .model = {{"w", weights}}, .optimizer = {}, .trainer = {{"step", k}}, .config_yaml = "a: 1\n"};
        const std::string name = CheckpointManager::step_name(k);
        manager.save(name, data);
        manager.commit(name);
      }
    }
    // Wait until the second checkpoint is being written (its temp directory exists), let the
    // writer run on for a while, then kill it.
    const fs::path second_tmp = ckpts / (".tmp-step-000002-" + std::to_string(child));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(second_tmp) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));

    CheckpointManager manager(ckpts, 2);
    std::optional<fs::path> latest = manager.latest();
    REQUIRE(latest.has_value());
    LoadedCheckpoint ckpt = read_checkpoint(*latest);
    const int64_t step = ckpt.trainer["step"];
    INFO("killed after " << delay_ms << " ms; latest is step " << step);
    CHECK(latest->filename() == CheckpointManager::step_name(step));
    REQUIRE(ckpt.model.find("w") != nullptr);
    NamedTensors loaded = tensors_of(ckpt.model);
    std::vector<float> values = loaded[0].second.to_vector<float>();
    CHECK(std::all_of(values.begin(), values.end(), [&](float v) { return v == static_cast<float>(step); }));
    int temps = 0;
    for (const auto& e : fs::directory_iterator(ckpts)) temps += e.path().filename().string().starts_with(".tmp");
    INFO(temps << " unfinished checkpoint directories left");
    manager.remove_stale_temps();
    for (const auto& e : fs::directory_iterator(ckpts)) CHECK_FALSE(e.path().filename().string().starts_with(".tmp"));
  }
}

TEST_CASE("Resuming from a checkpoint with a changed byte stops, naming the file", "[trainer]") {
  TempDir dir, other;
  train_toy(toy_config(dir.path()));
  const fs::path ckpt = dir / "checkpoints/step-000008";
  const fs::path optimizer = ckpt / "optimizer.safetensors";
  // One byte of the first tensor's data (after the 8-byte length and the header).
  std::string bytes = data::testing::read_file(optimizer);
  uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  bytes[8 + header + 2] ^= 0x01;
  data::testing::write_file(optimizer, bytes);

  TrainerOptions resume;
  resume.resume = true;
  resume.resume_from = ckpt;
  CHECK_THROWS_AS(train_toy(toy_config(other.path()), {}, resume), UserError);
  CHECK_THROWS_WITH(train_toy(toy_config(other.path()), {}, resume),
                    Catch::Contains(optimizer.string() + ": checksum mismatch"));
  CHECK(CheckpointManager(other / "checkpoints", 2).step_checkpoints().empty());
  CHECK_FALSE(fs::exists(other / "metrics.jsonl"));
}

TEST_CASE("Non-finite steps are skipped and counted, and abort after max_in_a_row", "[trainer]") {
  TempDir a, b, c;
  // grad_accum 2: calls 5 and 6 are step 3's micro-batches.
  Run run = train_toy(toy_config(a.path(), "  nan_calls: [5]\n"));
  REQUIRE(run.steps.size() == 12);
  CHECK(run.steps[2].skipped);
  CHECK(std::isnan(run.steps[2].loss));
  CHECK_FALSE(run.steps[3].skipped);
  CHECK(std::isfinite(run.steps.back().loss));
  for (const auto& w : run.weights) CHECK(std::all_of(w.begin(), w.end(), [](float v) { return std::isfinite(v); }));
  auto records = read_jsonl(a / "metrics.jsonl");
  CHECK(records[0]["type"] == "train");
  CHECK(records[0]["step"] == 4);
  CHECK(records[0]["nonfinite_skipped"] == 1);
  CHECK(records[0]["nonfinite_total"] == 1);
  CHECK(records[0].contains("fc1_weight_0"));
  CHECK(records[0].contains("examples_per_s"));
  CHECK(records[0].contains("ppl"));

  // Two in a row with max_in_a_row 2: stops at the second, naming it.
  try {
    train_toy(toy_config(b.path(), "  nan_calls: [5, 7]\n"), {"train.nonfinite.max_in_a_row=2"});
    FAIL("expected TrainingDiverged");
  } catch (const TrainingDiverged& e) {
    CHECK(std::string(e.what()).find("step 4: 2 non-finite steps in a row") != std::string::npos);
  }
  try {
    train_toy(toy_config(c.path(), "  nan_calls: [5]\n"), {"train.nonfinite.policy=abort"});
    FAIL("expected TrainingDiverged");
  } catch (const TrainingDiverged& e) {
    CHECK(std::string(e.what()).find("step 3: non-finite loss") != std::string::npos);
  }
}

TEST_CASE("The train app: SIGTERM saves and exits 3, --resume finishes, errors exit 2", "[trainer]") {
  TempDir dir;
  const fs::path work = dir / "run";
  data::testing::write_file(dir / "toy.yaml", toy_config(work, "  sigterm_at: 9\n"));
  TrainRunOptions options;
  options.config = dir / "toy.yaml";
  options.progress = false;
  clear_stop_request();
  // The task raises SIGTERM during step 5 (calls 9 and 10): step 5 completes, then the trainer
  // saves step-000005 and returns kExitStopped.
  CHECK(run_training(options, toy_factory()) == kExitStopped);
  CHECK(CheckpointManager(work / "checkpoints", 2).latest() == work / "checkpoints/step-000005");
  CHECK(fs::exists(work / "config.yaml"));
  CHECK(fs::exists(work / "train.log"));
  clear_stop_request();

  options.resume = true;
  options.overrides = {"model.sigterm_at=0"};
  CHECK(run_training(options, toy_factory()) == kExitOk);
  CHECK(read_checkpoint(work / "checkpoints/step-000012").trainer["step"] == 12);
  // The resumed run's log continues the first one.
  std::vector<int64_t> train_steps;
  for (const auto& r : read_jsonl(work / "metrics.jsonl"))
    if (r["type"] == "train") train_steps.push_back(r["step"]);
  CHECK(train_steps == std::vector<int64_t>{4, 8, 12});

  // fourierformer-eval's shell: the checkpoint's config and weights give the trainer's last eval.
  double last_eval = NAN;
  for (const auto& r : read_jsonl(work / "metrics.jsonl"))
    if (r["type"] == "eval") last_eval = r["loss"];
  EvalRunOptions eval;
  eval.checkpoint = work;
  eval.splits = {"valid"};
  eval.json_out = dir / "eval.json";
  CHECK(run_evaluation(eval, toy_factory()) == kExitOk);
  const auto results = nlohmann::json::parse(data::testing::read_file(dir / "eval.json"));
  CHECK(results["step"] == 12);
  CHECK(results["splits"]["valid"]["loss"].get<double>() == last_eval);
  eval.overrides = {"model.hidden=8"};  // weights of the wrong shape: exit 2
  CHECK(run_evaluation(eval, toy_factory()) == kExitUserError);

  // A named checkpoint that is missing or corrupt is exit 2, never a fresh start.
  options.resume_from = (dir / "nowhere").string();
  CHECK(run_training(options, toy_factory()) == kExitUserError);
  const fs::path model = work / "checkpoints/step-000012/model.safetensors";
  fs::resize_file(model, fs::file_size(model) / 2);
  options.resume_from = work.string();
  CHECK(run_training(options, toy_factory()) == kExitUserError);

  // Config errors: exit 2 before any work.
  TrainRunOptions bad;
  bad.config = dir / "toy.yaml";
  bad.overrides = {"train.lr_warmup=5"};
  bad.work_dir = (dir / "never").string();
  CHECK(run_training(bad, toy_factory()) == kExitUserError);
  bad.overrides = {"train.optimizer.lr=-1"};
  CHECK(run_training(bad, toy_factory()) == kExitUserError);
  bad.config = dir / "missing.yaml";
  CHECK(run_training(bad, toy_factory()) == kExitUserError);
  CHECK_FALSE(fs::exists(dir / "never"));

  // --print-config prints and does nothing else.
  TrainRunOptions print;
  print.config = dir / "toy.yaml";
  print.work_dir = (dir / "never").string();
  print.print_config = true;
  CHECK(run_training(print, toy_factory()) == kExitOk);
  CHECK_FALSE(fs::exists(dir / "never"));
}

// ---- The work directory, signals and errors, through the app shell (run_training) ----

namespace {

// Every file under dir (relative path -> bytes), to show that nothing changed.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = data::testing::read_file(e.path());
  return out;
}

// What the code under test writes to stderr (fd 2) while this object lives.
class StderrCapture {
 public:
  StderrCapture() : path_(fs::temp_directory_path() / ("ff-stderr-" + std::to_string(::getpid()))) {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~StderrCapture() { restore(); }
  std::string text() {
    restore();
    return data::testing::read_file(path_);
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  fs::path path_;
  int saved_ = -1;
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TrainRunOptions app_options(const fs::path& config) {
  TrainRunOptions options;
  options.config = config;
  options.progress = false;
  return options;
}

}  // namespace

TEST_CASE("A second start in a used work directory is refused and leaves every file as it was", "[trainer][workdir]") {
  TempDir dir;
  const fs::path work = dir / "run";
  data::testing::write_file(dir / "toy.yaml", toy_config(work));
  TrainRunOptions options = app_options(dir / "toy.yaml");
  clear_stop_request();
  REQUIRE(run_training(options, toy_factory()) == kExitOk);
  const auto before = snapshot(work);
  REQUIRE(before.count("metrics.jsonl") == 1);
  REQUIRE(before.count("checkpoints/latest") == 1);

  // Same config, another seed: without --resume or --overwrite, exit 2 naming the run.
  options.overrides = {"seed=9"};
  std::string err;
  {
    StderrCapture capture;
    CHECK(run_training(options, toy_factory()) == kExitUserError);
    err = capture.text();
  }
  INFO(err);
  CHECK(contains(err, "work directory '" + work.string() + "' already holds a run"));
  CHECK(contains(err, "checkpoints up to step-000012"));
  CHECK(contains(err, "--resume"));
  CHECK(contains(err, "--overwrite"));
  CHECK(snapshot(work) == before);  // byte for byte, train.log included

  // --resume and --overwrite together: refused, nothing touched.
  options.resume = options.overwrite = true;
  CHECK(run_training(options, toy_factory()) == kExitUserError);
  CHECK(snapshot(work) == before);
}

TEST_CASE("Starting again with --overwrite replaces the run's files only, once the new start has passed its checks",
          "[trainer][workdir]") {
  TempDir dir;
  const fs::path work = dir / "run";
  data::testing::write_file(dir / "toy.yaml", toy_config(work));
  TrainRunOptions options = app_options(dir / "toy.yaml");
  clear_stop_request();
  REQUIRE(run_training(options, toy_factory()) == kExitOk);
  data::testing::write_file(work / "notes.txt", "my notes\n");
  fs::create_directories(work / "plots");
  data::testing::write_file(work / "plots/a.png", "png");
  const auto before = snapshot(work);

  // A start that fails a check (a split the task cannot score) removes nothing.
  options.overwrite = true;
  options.overrides = {"train.eval_split=dev"};
  CHECK(run_training(options, toy_factory()) == kExitUserError);
  CHECK(snapshot(work) == before);

  // A good one: the old run's files are replaced, the user's stay.
  options.overrides = {"train.max_steps=8"};
  REQUIRE(run_training(options, toy_factory()) == kExitOk);
  const auto after = snapshot(work);
  CHECK(after.at("notes.txt") == "my notes\n");
  CHECK(after.at("plots/a.png") == "png");
  CHECK_FALSE(fs::exists(work / "checkpoints/step-000012"));
  CHECK(fs::exists(work / "checkpoints/step-000008"));
  std::vector<int64_t> train_steps;
  for (const auto& r : read_jsonl(work / "metrics.jsonl"))
    if (r["type"] == "train") train_steps.push_back(r["step"]);
  CHECK(train_steps == std::vector<int64_t>{4, 8});
  CHECK(contains(after.at("config.yaml"), "max_steps: 8"));
  // The new train.log starts with the new run (the old one's lines are gone) and says what
  // --overwrite removed.
  const std::string log = after.at("train.log");
  CHECK(contains(log, "--overwrite: removed config.yaml, train.log, metrics.jsonl, checkpoints"));
  CHECK(contains(log, "finished 8 steps"));
  CHECK_FALSE(contains(log, "finished 12 steps"));
}

TEST_CASE("A refused resume leaves config.yaml and the checkpoints as they were", "[trainer][workdir]") {
  TempDir dir;
  const fs::path work = dir / "run";
  data::testing::write_file(dir / "toy.yaml", toy_config(work, "  sigterm_at: 9\n"));
  TrainRunOptions options = app_options(dir / "toy.yaml");
  clear_stop_request();
  REQUIRE(run_training(options, toy_factory()) == kExitStopped);
  clear_stop_request();
  const std::string config_before = data::testing::read_file(work / "config.yaml");
  // Corrupt the only checkpoint's trainer state; resume with a changed config.
  data::testing::write_file(work / "checkpoints/step-000005/trainer.json", "{\"step\": 5}\n");
  const auto before = snapshot(work);
  options.resume = true;
  options.overrides = {"model.sigterm_at=0", "train.max_steps=20"};
  std::string err;
  {
    StderrCapture capture;
    CHECK(run_training(options, toy_factory()) == kExitUserError);
    err = capture.text();
  }
  INFO(err);
  CHECK(contains(err, "trainer.json"));
  CHECK(data::testing::read_file(work / "config.yaml") == config_before);
  auto after = snapshot(work);
  // train.log is the one file that changes: the failed start and its error are appended there.
  CHECK(contains(after.at("train.log"), "fourierformer-train: error: "));
  CHECK(contains(after.at("train.log"), "trainer.json"));
  after.erase("train.log");
  auto expected = before;
  expected.erase("train.log");
  CHECK(after == expected);
}

TEST_CASE("Ctrl-C saves at the step boundary and exits 3, a second Ctrl-C stops at once", "[trainer][signals]") {
  TempDir dir;
  const fs::path work = dir / "run";
  // The task raises SIGINT during step 4 (calls 7 and 8): step 4 completes and is saved.
  data::testing::write_file(dir / "toy.yaml", toy_config(work, "  sigint_at: 7\n"));
  TrainRunOptions options = app_options(dir / "toy.yaml");
  clear_stop_request();
  std::string err;
  {
    StderrCapture capture;
    CHECK(run_training(options, toy_factory()) == kExitStopped);
    err = capture.text();
  }
  clear_stop_request();
  INFO(err);
  CHECK(contains(err, "interrupted: saving a checkpoint at the end of this step"));
  CHECK(CheckpointManager(work / "checkpoints", 2).latest() == work / "checkpoints/step-000004");
  CHECK(read_checkpoint(work / "checkpoints/step-000004").trainer["step"] == 4);

  // In a child: the first SIGINT is a request, the second one ends the process with SIGINT.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    clear_stop_request();
    install_stop_handlers();
    ::raise(SIGINT);
    if (stop_requested() != SIGINT) ::_exit(10);
    ::raise(SIGINT);
    ::_exit(11);  // not reached when the second SIGINT terminates the process
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK((WIFSIGNALED(status) ? WTERMSIG(status) : -WEXITSTATUS(status)) == SIGINT);
}

TEST_CASE("An error after training started saves the last consistent state, and resuming from it is exact",
          "[trainer][errors]") {
  TempDir dir;
  const fs::path straight = dir / "straight", failed = dir / "failed";
  // Checkpoints only at the end, so the one saved on the error is the only one there.
  auto options = [&](const std::string& name) {
    TrainRunOptions o = app_options(dir / name);
    o.overrides = {"train.checkpoint.interval=0"};
    return o;
  };
  data::testing::write_file(dir / "straight.yaml", toy_config(straight));
  // Call 11 is the first micro-batch of step 6: the error comes in the middle of a step.
  data::testing::write_file(dir / "failed.yaml", toy_config(failed, "  fail_at: 11\n"));
  clear_stop_request();
  REQUIRE(run_training(options("straight.yaml"), toy_factory()) == kExitOk);
  std::string err;
  {
    StderrCapture capture;
    CHECK(run_training(options("failed.yaml"), toy_factory()) == kExitUserError);
    err = capture.text();
  }
  INFO(err);
  CHECK(contains(err, "toy data: batch 11 is corrupt"));
  CHECK(contains(err, "saved " + (failed / "checkpoints/step-000005").string() + " at step 5"));
  CHECK(CheckpointManager(failed / "checkpoints", 2).latest() == failed / "checkpoints/step-000005");
  // The fatal error is in train.log too, where a cluster user looks.
  CHECK(contains(data::testing::read_file(failed / "train.log"),
                 "fourierformer-train: error: toy data: batch 11 is corrupt"));

  // The checkpoint is the state at the start of step 6: resuming reproduces the straight run.
  TrainRunOptions resume = options("failed.yaml");
  resume.resume = true;
  resume.overrides.push_back("model.fail_at=0");
  REQUIRE(run_training(resume, toy_factory()) == kExitOk);
  const auto a = tensors_of(read_checkpoint(straight / "checkpoints/step-000012").model);
  const auto b = tensors_of(read_checkpoint(failed / "checkpoints/step-000012").model);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].second.to_vector<float>() == b[i].second.to_vector<float>());

  // An error in an evaluation (after the step) saves that step.
  const fs::path eval_failed = dir / "eval-failed";
  data::testing::write_file(dir / "eval.yaml", toy_config(eval_failed, "  fail_eval_at: 2\n"));
  CHECK(run_training(options("eval.yaml"), toy_factory()) == kExitUserError);
  CHECK(CheckpointManager(eval_failed / "checkpoints", 2).latest() == eval_failed / "checkpoints/step-000008");
}

TEST_CASE("Records carry wall-clock time and elapsed seconds, log lines carry elapsed time and an ETA",
          "[trainer][metrics]") {
  TempDir dir;
  const fs::path work = dir / "run";
  data::testing::write_file(dir / "toy.yaml", toy_config(work, "  sigterm_at: 9\n"));
  const double before = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  TrainRunOptions options = app_options(dir / "toy.yaml");
  clear_stop_request();
  REQUIRE(run_training(options, toy_factory()) == kExitStopped);
  clear_stop_request();
  options.resume = true;
  options.overrides = {"model.sigterm_at=0"};
  REQUIRE(run_training(options, toy_factory()) == kExitOk);
  const double after = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto records = read_jsonl(work / "metrics.jsonl");
  REQUIRE(records.size() == 6);  // train and eval at steps 4, 8, 12
  double last_elapsed = 0;
  for (const auto& r : records) {
    INFO(r.dump());
    const double t = r["time"].get<double>();
    CHECK(t >= before);
    CHECK(t <= after);
    // Training time of the run, continued across the resume (never restarting at 0).
    const double elapsed = r["elapsed_s"].get<double>();
    CHECK(elapsed >= last_elapsed);
    CHECK(elapsed <= after - before);
    last_elapsed = elapsed;
  }
  CHECK(read_checkpoint(work / "checkpoints/step-000012").trainer["elapsed_s"].get<double>() >=
        records.back()["elapsed_s"].get<double>());
  const std::string log = data::testing::read_file(work / "train.log");
  CHECK(contains(log, "step 4/12 | epoch 1.33 | loss "));
  CHECK(contains(log, " | elapsed "));
  CHECK(contains(log, " | ETA "));
}

TEST_CASE("fourierformer-eval checks its splits and its --json path before scoring anything", "[trainer][eval]") {
  TempDir dir;
  const fs::path work = dir / "run";
  data::testing::write_file(dir / "toy.yaml", toy_config(work));
  clear_stop_request();
  REQUIRE(run_training(app_options(dir / "toy.yaml"), toy_factory()) == kExitOk);
  EvalRunOptions eval;
  eval.checkpoint = work;
  eval.splits = {"valid"};
  std::string err;
  eval.json_out = dir / "no-such-dir" / "eval.json";
  {
    StderrCapture capture;
    CHECK(run_evaluation(eval, toy_factory()) == kExitUserError);
    err = capture.text();
  }
  CHECK(contains(err, "--json '" + (dir / "no-such-dir" / "eval.json").string() + "'"));
  CHECK_FALSE(contains(err, "valid: loss"));  // refused before the evaluation
  eval.json_out = dir.path();  // a directory
  CHECK(run_evaluation(eval, toy_factory()) == kExitUserError);
  eval.json_out = dir / "eval.json";
  eval.splits = {"valid", "dev"};
  {
    StderrCapture capture;
    CHECK(run_evaluation(eval, toy_factory()) == kExitUserError);
    err = capture.text();
  }
  CHECK(contains(err, "toy task: no split 'dev'"));
  CHECK_FALSE(fs::exists(dir / "eval.json"));
}

TEST_CASE("The evaluation progress line counts batches against the total", "[trainer][metrics]") {
  std::string err;
  {
    StderrCapture capture;
    ProgressLine line(/*enabled=*/true);
    line.show("step 3/10");
    {
      EvalProgressLine eval(line, "eval valid at step 3");
      eval.callback()(2, 8);
    }
    err = capture.text();
  }
  CHECK(contains(err, "eval valid at step 3: 2/8 batches | elapsed 0s | ETA "));
  // Afterwards the training line is drawn again.
  CHECK(err.rfind("step 3/10") > err.find("2/8 batches"));
}

// ---- On a GPU (skipped without one) ----

TEST_CASE("The toy run on CUDA tracks the CPU run: same dropout masks, losses and weights", "[trainer][cuda]") {
  FF_REQUIRE_CUDA();
  TempDir a, b;
  Run cpu = train_toy(toy_config(a.path()));
  Run gpu = train_toy(toy_config(b.path()), {"device=cuda"}, {}, 0, Device::cuda());
  REQUIRE(gpu.steps.size() == cpu.steps.size());
  for (size_t i = 0; i < cpu.steps.size(); ++i) {
    INFO("step " << i + 1);
    CHECK(gpu.steps[i].loss == Approx(cpu.steps[i].loss).margin(1e-4));
    CHECK(gpu.steps[i].grad_norm == Approx(cpu.steps[i].grad_norm).margin(1e-4));
  }
  REQUIRE(gpu.weights.size() == cpu.weights.size());
  for (size_t i = 0; i < cpu.weights.size(); ++i)
    for (size_t j = 0; j < cpu.weights[i].size(); ++j) CHECK(gpu.weights[i][j] == Approx(cpu.weights[i][j]).margin(1e-4));
}

#ifdef FF_WITH_CUDA
TEST_CASE("On CUDA a training step between log intervals reads nothing on the host", "[trainer][cuda]") {
  FF_REQUIRE_CUDA();
  TempDir dir;
  config::Document doc = config::Document::from_string(toy_config(dir.path()), "toy.yaml");
  doc.apply_overrides({"device=cuda", "train.log_interval=100", "train.clip_grad_norm=0.5", "model.nan_calls=[7]"});
  TrainConfig cfg = parse_train_config(doc.root(), "toy");
  TaskBuilder build = toy_factory()(doc.root());
  Generator gen(cfg.seed);
  TaskContext ctx{.train = cfg, .device = Device::cuda(), .gen = gen, .work_dir = cfg.work_dir};
  std::unique_ptr<Task> task = build(ctx);
  Trainer trainer(cfg, *task, gen, doc.resolved(), {});
  trainer.train_step();  // first-use work (handles, pools) out of the way
  const int64_t before = cuda::host_syncs();
  // Steps 2-6: clipped, one of them non-finite (call 7 is step 4's first micro-batch).
  for (int i = 0; i < 5; ++i) trainer.train_step();
  CHECK(cuda::host_syncs() == before);
  CHECK(trainer.step() == 6);
}
#endif

// ---- Mixed precision (train.precision: bf16) ----

TEST_CASE("bf16 mixed precision: the toy run tracks fp32, keeps f32 masters, and resumes bit for bit",
          "[trainer][bf16]") {
  TempDir fp32_dir, bf16_dir, part_dir;
  const std::vector<std::string> longer = {"train.max_steps=240", "train.log_interval=20", "train.eval_interval=0",
                                           "train.checkpoint.interval=0"};
  std::vector<std::string> bf16 = longer;
  bf16.push_back("train.precision=bf16");
  Run a = train_toy(toy_config(fp32_dir.path()), longer);
  Run b = train_toy(toy_config(bf16_dir.path()), bf16);
  REQUIRE(a.steps.size() == 240);
  REQUIRE(b.steps.size() == 240);
  // bf16 really ran: products rounded to 8 significant bits change the losses...
  CHECK(losses(a.steps) != losses(b.steps));
  // ...but not the training: the loss falls from about 1.1 to about 0.03 in both, and over the
  // last 40 steps the mean losses agree within 10% of the fp32 one (measured: 0.03383 and
  // 0.03388). A bf16 path that loses the gradients' small components would plateau far higher.
  auto tail_mean = [](const std::vector<StepRecord>& steps) {
    double s = 0;
    for (size_t i = steps.size() - 40; i < steps.size(); ++i) s += steps[i].loss;
    return s / 40;
  };
  INFO("fp32 " << tail_mean(a.steps) << ", bf16 " << tail_mean(b.steps));
  CHECK(tail_mean(a.steps) < 0.1 * a.steps.front().loss);
  CHECK(std::abs(tail_mean(b.steps) - tail_mean(a.steps)) < 0.1 * tail_mean(a.steps));

  // The weights stay f32 ("masters"), and the checkpoint holds exactly them, as f32.
  const LoadedCheckpoint ckpt = read_checkpoint(bf16_dir / "checkpoints/step-000240");
  const NamedTensors saved = tensors_of(ckpt.model);
  REQUIRE(saved.size() == b.weights.size());
  for (const auto& [name, t] : saved) {
    INFO(name);
    const auto it = std::find(b.weight_names.begin(), b.weight_names.end(), name);
    REQUIRE(it != b.weight_names.end());
    CHECK(t.dtype() == DType::F32);
    CHECK(t.to_vector<float>() == b.weights[it - b.weight_names.begin()]);
  }
  for (const auto& [name, t] : tensors_of(ckpt.optimizer))
    if (name != "step") CHECK(t.dtype() == DType::F32);

  // A bf16 run stopped and resumed reproduces the straight bf16 run exactly.
  Run part1 = train_toy(toy_config(part_dir.path()), bf16, {}, /*stop_after=*/100);
  REQUIRE(part1.outcome == TrainOutcome::Stopped);
  TrainerOptions resume;
  resume.resume = true;
  Run part2 = train_toy(toy_config(part_dir.path()), bf16, resume);
  std::vector<double> joined = losses(part1.steps);
  for (double l : losses(part2.steps)) joined.push_back(l);
  CHECK(joined == losses(b.steps));
  CHECK(part2.weights == b.weights);
  CHECK(part2.optimizer_state == b.optimizer_state);
}
