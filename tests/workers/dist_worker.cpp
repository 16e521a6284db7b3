// ff_dist_worker: fourierformer-train with a window into every step, for the data-parallel tests
// (tests/apps/dist_apps_test.cpp), which start it under mpirun as the app is started. It runs the
// library's run_training with the command line of fourierformer-train and the tasks of the
// registry, plus `task: probe` (below), and after every step each rank appends to
// DUMP_DIR/rank-R.jsonl {step, loss, grad_norm, skipped, units, all_reduce, any, buckets,
// params_xxh3, params: [[name, elements], ...]} and writes its parameters (f32, in
// named_parameters order) to DUMP_DIR/rank-R-step-S.f32.
//
//   ff_dist_worker --dump DIR -- --config configs/tests/lm-tiny-softmax.yaml --set ...
//
// task: probe is a tiny classifier whose global batch of `batch_size` examples (a fixed function
// of the example's index) each rank reads its contiguous share of, with two parameters that
// test the reducer: `unused` (no rank ever uses it) and `odd_ranks` (only odd ranks use it), and
// failures on one rank: model.fail_rank/fail_at (throws ff::UserError at that train_loss call),
// hang_rank/hang_at (sleeps 60 s, longer than the tests wait), signal_rank/signal_at (raises SIGTERM).

#include <fmt/format.h>
#include <signal.h>
#include <xxhash.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "apps/common/app.h"
#include "apps/tasks/registry.h"
#include "core/dist/communicator.h"
#include "core/nn/nn.h"
#include "core/ops/ops.h"

namespace fs = std::filesystem;
using namespace ff;

namespace {

struct ProbeOptions {
  int64_t batch_size = 12;
  int fail_rank = -1, hang_rank = -1, signal_rank = -1;
  int64_t fail_at = 0, hang_at = 0, signal_at = 0;
};

struct ProbeModel : nn::Module {
  explicit ProbeModel(Generator& gen) {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(4, 8, gen));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(8, 3, gen));
    register_parameter("unused", unused = Tensor::ones({5}));
    register_parameter("odd_ranks", odd_ranks = Tensor::zeros({3}));
  }
  std::shared_ptr<nn::Linear> fc1, fc2;
  Tensor unused, odd_ranks;
};

// Example i of the stream: 4 features and a label, a fixed function of i.
void example(int64_t i, float* x, int64_t& y) {
  float score[3] = {0, 0, 0};
  for (int d = 0; d < 4; ++d) {
    x[d] = static_cast<float>(std::sin(0.7 * static_cast<double>(i) + 1.3 * d));
    for (int c = 0; c < 3; ++c) score[c] += x[d] * static_cast<float>((c + 1) * (d % 2 ? 1 : -1) + d);
  }
  y = std::max_element(score, score + 3) - score;
}

class ProbeTask : public train::Task {
 public:
  ProbeTask(const train::TaskContext& ctx, ProbeOptions o) : o_(o), rank_(ctx.rank), world_(ctx.world_size) {
    FF_USER_CHECK(o_.batch_size % world_ == 0, "data.batch_size {} is not divisible by the world size {}",
                  o_.batch_size, world_);
    model_ = std::make_shared<ProbeModel>(ctx.gen);
  }
  nn::Module& model() override { return *model_; }
  std::string unit() const override { return "examples"; }
  int64_t global_batch_size() const override { return o_.batch_size; }

  train::LossOutput train_loss() override {
    ++calls_;
    if (rank_ == o_.fail_rank && calls_ == o_.fail_at)
      throw UserError(fmt::format("probe data: batch {} is corrupt", calls_));
    if (rank_ == o_.hang_rank && calls_ == o_.hang_at) std::this_thread::sleep_for(std::chrono::seconds(60));
    if (rank_ == o_.signal_rank && calls_ == o_.signal_at) ::raise(SIGTERM);
    const int64_t b = o_.batch_size / world_;
    std::vector<float> x(b * 4);
    std::vector<int64_t> y(b);
    for (int64_t k = 0; k < b; ++k) example(position_ * o_.batch_size + rank_ * b + k, &x[k * 4], y[k]);
    ++position_;
    Tensor logits = model_->fc2->forward(gelu(model_->fc1->forward(Tensor::from_vector(x, {b, 4}))));
    if (rank_ % 2 == 1) logits = add(logits, model_->odd_ranks);
    return {cross_entropy(logits, Tensor::from_vector(y, {b})), static_cast<double>(b)};
  }

  train::EvalResult evaluate(const std::string&, int64_t, const train::EvalProgress&) override {
    return {.loss = 1.0, .units = 1.0, .metrics = {}};
  }
  void check_split(const std::string&) const override {}
  nlohmann::json data_state() const override { return {{"position", position_}, {"calls", calls_}}; }
  void load_data_state(const nlohmann::json& s) override {
    position_ = s.at("position").get<int64_t>();
    calls_ = s.at("calls").get<int64_t>();
  }

 private:
  ProbeOptions o_;
  int rank_, world_;
  std::shared_ptr<ProbeModel> model_;
  int64_t position_ = 0, calls_ = 0;
};

train::TaskFactory factory() {
  return [](const config::Section& root) -> train::TaskBuilder {
    if (root.get<std::string>("task", "lm") != "probe") return apps::task_factory()(root);
    ProbeOptions o;
    o.batch_size = root.section("data").get<int64_t>("batch_size", o.batch_size, config::at_least(1));
    const config::Section m = root.section("model");
    o.fail_rank = m.get<int>("fail_rank", -1);
    o.fail_at = m.get<int64_t>("fail_at", 0);
    o.hang_rank = m.get<int>("hang_rank", -1);
    o.hang_at = m.get<int64_t>("hang_at", 0);
    o.signal_rank = m.get<int>("signal_rank", -1);
    o.signal_at = m.get<int64_t>("signal_at", 0);
    return [o](const train::TaskContext& ctx) { return std::make_unique<ProbeTask>(ctx, o); };
  };
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = {argv[0]};
  fs::path dump;
  int i = 1;
  if (i + 1 < argc && std::string(argv[i]) == "--dump") {
    dump = argv[i + 1];
    i += 2;
  }
  if (i < argc && std::string(argv[i]) == "--") ++i;
  for (; i < argc; ++i) args.push_back(argv[i]);

  train::TrainRunOptions options;
  if (int code = apps::parse_train_args(static_cast<int>(args.size()), args.data(), options); code >= 0) return code;
  if (!dump.empty()) {
    fs::create_directories(dump);
    options.on_step = [dump](const train::StepRecord& r, train::Trainer& trainer, train::Task& task) {
      const dist::Communicator* comm = trainer.communicator();
      const int rank = comm ? comm->rank() : 0;
      std::vector<float> values;
      nlohmann::json layout = nlohmann::json::array();
      for (const auto& [name, p] : task.model().named_parameters()) {
        const std::vector<float> v = p.to_vector<float>();
        layout.push_back({name, v.size()});
        values.insert(values.end(), v.begin(), v.end());
      }
      const uint64_t hash = XXH3_64bits(values.data(), values.size() * sizeof(float));
      nlohmann::json line = {{"step", r.step},
                             {"loss", r.loss},
                             {"grad_norm", r.grad_norm},
                             {"skipped", r.skipped},
                             {"units", r.units},
                             {"all_reduce", comm ? comm->counts().all_reduce : 0},
                             {"any", comm ? comm->counts().any : 0},
                             {"buckets", trainer.grad_buckets()},
                             {"params_xxh3", fmt::format("{:016x}", hash)},
                             {"params", layout}};
      std::ofstream(dump / fmt::format("rank-{}.jsonl", rank), std::ios::app) << line.dump() << "\n";
      std::ofstream(dump / fmt::format("rank-{}-step-{}.f32", rank, r.step), std::ios::binary)
          .write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
    };
  }
  return train::run_training(options, factory());
}
