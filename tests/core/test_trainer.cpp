// The generic trainer on a tiny task made here (an MLP classifier with dropout on a fixed
// synthetic data set, shuffled per epoch): repeatable seeds, gradient clipping, bit-exact
// resume, checkpoint retention, a SIGKILL during a checkpoint write, non-finite steps, SIGTERM,
// and the app shell's exit codes.

#include <signal.h>
#include <sys/wait.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
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
  ToyTask(const TaskContext& ctx, ToyOptions options) : options_(std::move(options)) {
    model_ = std::make_shared<ToyModel>(options_.hidden, options_.dropout, ctx.gen);
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

  LossOutput train_loss() override {
    ++calls_;
    if (options_.sigterm_at == calls_) ::raise(SIGTERM);
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
    Tensor loss = cross_entropy(model_->forward(Tensor::from_vector(xb, {b, 4})), Tensor::from_vector(yb, {b}));
    if (options_.nan_calls.count(calls_)) loss = mul(loss, std::nan(""));
    return {loss, static_cast<double>(b)};
  }

  EvalResult evaluate(const std::string& split, int64_t max_batches) override {
    Tensor x = Tensor::from_vector(x_, {options_.examples, 4});
    Tensor y = Tensor::from_vector(y_, {options_.examples});
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
  std::vector<float> x_;
  std::vector<int64_t> y_;
  int64_t epoch_ = 0, index_ = 0, calls_ = 0;
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
  std::vector<std::vector<float>> optimizer_state;
};

// Parses the config text as the app does and trains in-process.
Run train_toy(const std::string& config_text, const std::vector<std::string>& overrides = {},
              TrainerOptions options = {}, int64_t stop_after = 0) {
  clear_stop_request();
  config::Document doc = config::Document::from_string(config_text, "toy.yaml");
  doc.apply_overrides(overrides);
  TrainConfig cfg = parse_train_config(doc.root(), "toy");
  TaskBuilder build = toy_factory()(doc.root());
  doc.check_no_unknown_keys();
  Generator gen(cfg.seed);
  TaskContext ctx{.train = cfg, .device = Device::cpu(), .gen = gen, .work_dir = cfg.work_dir};
  std::unique_ptr<Task> task = build(ctx);
  Run run;
  for (const Tensor& p : task->model().parameters()) run.initial_weights.push_back(p.to_vector<float>());
  options.on_step = [&](const StepRecord& r) {
    run.steps.push_back(r);
    if (stop_after > 0 && r.step == stop_after) request_stop(SIGUSR1);
  };
  Trainer trainer(cfg, *task, gen, doc.resolved(), options);
  run.outcome = trainer.run();
  for (const Tensor& p : task->model().parameters()) run.weights.push_back(p.to_vector<float>());
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

TEST_CASE("Two runs with the same seed give identical losses; another seed differs", "[trainer]") {
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
