#pragma once
// What the trainer trains: a Task owns a model and its data and knows its loss. The trainer
// (core/train/trainer.h) owns the optimizer, the schedule, the run's random Generator, the
// loop, logging and checkpoints, and is the same for language modelling and image
// classification.
//
// A task is made in two phases so that a bad config fails before any work:
//   1. TaskFactory(root section) reads and validates the task's own keys (model:, data:, ...)
//      and returns a TaskBuilder holding the parsed structs; nothing is loaded yet;
//   2. TaskBuilder(context) loads data and builds the model on context.device, initialising
//      it from context.gen (the run's Generator, seeded with `seed`; dropout keeps drawing
//      from it) and returns the Task.
//
// Resumption is bit-exact when the task's randomness comes from context.gen (saved by the
// trainer) or from state it returns in data_state(), and when train_loss() depends only on
// that state and the parameters.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/nn/module.h"
#include "core/optim/optimizer.h"
#include "core/random/generator.h"
#include "core/train/train_config.h"

namespace ff::dist {
class Communicator;
}

namespace ff::train {

// One training micro-batch after the forward pass.
struct LossOutput {
  Tensor loss;       // () scalar, mean over the batch's units, with autograd history
  double units = 0;  // tokens, images, ... in the batch (throughput and weighting)
};

// An evaluation over one split: in a data-parallel run, over the whole split (each rank scores
// its share and the task adds the ranks' sums and counts with dist::sum_over_ranks before
// turning them into means), so every rank holds the same result.
struct EvalResult {
  double loss = 0;                        // mean per unit; the trainer keeps the best (lowest)
  double units = 0;                       // units scored, over all ranks
  std::map<std::string, double> metrics;  // "ppl", "top1", "top5", ...
};

// Progress of an evaluation, called after each batch: batches done and the total (0 when the
// task does not know it).
using EvalProgress = std::function<void(int64_t done, int64_t total)>;

class Task {
 public:
  virtual ~Task() = default;

  virtual nn::Module& model() = 0;
  // Name of the unit counted by LossOutput::units ("tokens", "images"): logs say "<unit>/s".
  virtual std::string unit() const = 0;

  // Called before the micro-batches of every training step with the number of steps done (0 for
  // the first, the checkpoint's step after a resume): for models whose state is a function of
  // the step (fourier_rf attention's frequency redraws).
  virtual void begin_step(int64_t step) {}
  // Draws the next training micro-batch and runs the forward pass in training mode (the trainer
  // has called model().train()). Called grad_accum times per optimizer step.
  virtual LossOutput train_loss() = 0;
  // Scores `split` ("valid", "test") with the model in eval mode under no-grad (the trainer
  // sets both); max_batches > 0 limits the work (quick evaluations during training). Calls
  // `progress` (when set) after each batch.
  virtual EvalResult evaluate(const std::string& split, int64_t max_batches, const EvalProgress& progress) = 0;
  // Throws ff::UserError, naming the split and its file, when evaluate(split) could not run
  // (unknown, empty, or too short for the evaluation the config asks for). The apps call it
  // for every split a run will score before the first step.
  virtual void check_split(const std::string& split) const = 0;

  // Samples (sequences, images) of one training micro-batch over all ranks: the batch of the
  // linear learning-rate scaling rule (train.optimizer.lr_reference_batch). Each rank's
  // train_loss() reads global_batch_size() / world_size of them.
  virtual int64_t global_batch_size() const = 0;
  // Training micro-batches (train_loss calls) per epoch; 0 when the task streams without
  // epochs. The trainer's epoch is batches_per_epoch / grad_accum optimizer steps.
  virtual int64_t batches_per_epoch() const { return 0; }
  // Scalars derived from the training loss for logs ("ppl" = exp(loss) for language models).
  virtual std::map<std::string, double> loss_metrics(double loss) const { return {}; }
  // Extra scalars logged at every log step (e.g. the learned R of each Fourier layer).
  virtual std::map<std::string, double> extra_metrics() { return {}; }

  // Parameter groups for the optimizer (the trainer sets lr and weight decay). Default: the
  // decayed / not-decayed split of optim::decay_groups with `no_decay` name suffixes.
  virtual std::vector<optim::ParamGroup> param_groups(const std::vector<std::string>& no_decay) {
    return optim::decay_groups(model().named_parameters(), 0.0, 0.0, no_decay);
  }

  // The data position (iterator offsets, epoch, shuffling RNG) for checkpoints, and back.
  virtual nlohmann::json data_state() const = 0;
  // Throws ff::UserError when the state does not fit this task's data.
  virtual void load_data_state(const nlohmann::json& state) = 0;
};

// What a builder gets to build a task.
struct TaskContext {
  const TrainConfig& train;  // seed, device, threads, ...
  Device device;             // resolved (auto -> cuda when available)
  Generator& gen;            // the run's generator: init, dropout; saved in checkpoints
  std::filesystem::path work_dir;
  bool training = true;  // false for fourierformer-eval: training data may be skipped
  // Data parallel: this process's rank among world_size, and the communicator that evaluate()
  // sums its totals over (null: one process). Each rank reads its shard of every global batch.
  int rank = 0, world_size = 1;
  dist::Communicator* comm = nullptr;
};

using TaskBuilder = std::function<std::unique_ptr<Task>(const TaskContext&)>;
using TaskFactory = std::function<TaskBuilder(const config::Section& root)>;

}  // namespace ff::train
