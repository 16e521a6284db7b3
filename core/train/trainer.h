#pragma once
// The training loop, generic over a Task (core/train/task.h). One optimizer step:
//
//   lr = schedule.lr_at(step); opt.set_lr(lr)
//   grad_accum times: out = task.train_loss() (under autocast for train.precision bf16);
//                     (out.loss / grad_accum).backward(); loss_sum += out.loss (on the device)
//   norm = global gradient norm (on the device)
//   decide_step (core/optim/step_control.h), on the device: clip factor, apply flag (loss and
//     norm finite, non-finite limit not reached), window statistics
//   opt.step(control); opt.zero_grad(); step += 1
//   every log_interval: read the statistics (the only host read of a step), log line and
//     metrics.jsonl record (+ progress line on a terminal); a non-finite limit reached stops
//     the run (TrainingDiverged)
//   every eval_interval and at the end: task.evaluate(eval_split) in eval mode under no-grad;
//     a new lowest loss rewrites checkpoints/best/
//   every checkpoint.interval and at the end: checkpoints/step-N/, then `latest`
//   a SIGTERM / SIGUSR1 / first SIGINT (signals.h): checkpoint and return Stopped
//   an error after the first step: a checkpoint of the last consistent state, then the error
//
// Data parallel (options.comm, docs/distributed.md): every rank runs this loop on its shard of
// each global batch. Parameters and buffers are broadcast from rank 0 once started; gradients are
// reduced in buckets during the backward pass of each step's last micro-batch
// (core/dist/grad_reducer.h) and clipping and the update follow the reduction, so all ranks take
// identical steps, equal to one process's on the global batch. The ranks agree at every step
// whether one was asked to stop (one host-side flag exchange); rank 0 alone writes metrics.jsonl
// and checkpoints (the others wait at a barrier); evaluation covers the whole split (the task
// sums over ranks). An error on one rank stops the job (run.cpp) without a checkpoint: the
// others cannot join one.
//
// A skipped step still counts (the schedule and the data move on; the optimizer's own step
// count does not). Resuming restores parameters, buffers, optimizer state, the run's Generator,
// the task's data position, the step, the best validation loss, the non-finite counters and the
// log accumulators, so N steps + resume + N steps reproduces 2N straight steps bit for bit.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/optim/optimizer.h"
#include "core/optim/scheduler.h"
#include "core/optim/step_control.h"
#include "core/random/generator.h"
#include "core/train/checkpoint.h"
#include "core/train/metrics.h"
#include "core/train/task.h"
#include "core/train/train_config.h"

namespace ff::dist {
class Communicator;
class GradReducer;
}  // namespace ff::dist

namespace ff::train {

// Exit codes of fourierformer-train and -eval (documented in docs/training.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;      // a bug or an environment failure
inline constexpr int kExitUserError = 2;  // bad config, command line, data or checkpoint
inline constexpr int kExitStopped = 3;    // SIGTERM/SIGUSR1/SIGINT: checkpoint saved; resume with --resume
inline constexpr int kExitDiverged = 4;   // non-finite loss/gradient limit reached; eval: a non-finite loss

// Thrown when the non-finite policy gives up; the message names the step.
class TrainingDiverged : public Error {
 public:
  using Error::Error;
};

enum class TrainOutcome { Finished, Stopped };

// One optimizer step, as tests and hooks see it.
struct StepRecord {
  int64_t step = 0;  // 1 for the first step
  double loss = 0;   // mean over the micro-batches
  double grad_norm = 0;
  double lr = 0;
  bool skipped = false;  // non-finite: no update
  double units = 0;      // tokens, images, ... processed by the step (over all ranks)
};

struct TrainerOptions {
  // Resume: from this checkpoint (resolve_checkpoint rules), or when empty from
  // <work_dir>/checkpoints/latest if there is one (else start fresh).
  bool resume = false;
  std::filesystem::path resume_from;
  bool progress = false;  // draw the progress line (a terminal)
  std::string version;    // written into trainer.json
  // After every step. Reads the step's loss and norm on the host: a synchronisation per step on
  // a GPU (tests and benchmarks ask for it; the trainer itself reads only at log intervals).
  std::function<void(const StepRecord&)> on_step;
  // Data parallel over this communicator's ranks (null: one process, no gradient
  // synchronisation). It must outlive the trainer.
  dist::Communicator* comm = nullptr;
};

class Trainer {
 public:
  // resolved_config: the run's resolved config (Document::resolved), saved with checkpoints.
  // gen must be the Generator the task draws from.
  Trainer(const TrainConfig& cfg, Task& task, Generator& gen, nlohmann::ordered_json resolved_config,
          TrainerOptions options = {});
  ~Trainer();

  // Restores the checkpoint that options.resume asks for (nothing otherwise) and opens
  // metrics.jsonl. A bad checkpoint throws ff::UserError before anything in the work directory
  // has changed. run() calls it when nobody has.
  void start();
  // Trains to max_steps (or until a stop signal). Throws TrainingDiverged, ff::UserError (a bad
  // resume checkpoint, bad data), ff::Error; an error after the first step saves a checkpoint
  // of the last consistent state first when it can.
  TrainOutcome run();
  // One optimizer step: grad_accum micro-batches, clipping, the update. run() calls it in its
  // loop; fourierformer-bench times it alone.
  void train_step();

  int64_t step() const { return step_; }
  // Units (tokens, images) the steps of this process have trained on; a host count, no sync.
  double units_processed() const { return units_processed_; }
  // The latest step's mean micro-batch loss: a host read (a synchronisation on a GPU).
  double last_loss() const;
  int64_t total_steps() const { return total_steps_; }
  optim::Optimizer& optimizer() { return *optimizer_; }
  std::optional<double> best_loss() const;
  // Writes checkpoints/step-N (+ latest); returns its directory.
  std::filesystem::path save_checkpoint();
  // Restores everything from a checkpoint directory.
  void load_checkpoint(const std::filesystem::path& dir);
  // Data parallel: the communicator and the number of gradient buckets (0 when alone).
  const dist::Communicator* communicator() const { return comm_; }
  size_t grad_buckets() const;

 private:
  // Where train_step is, for saving a consistent checkpoint after an error.
  enum class Phase { Boundary, Forward, Update, Checkpoint };
  void evaluate();
  void log_train_record();
  // Reads the device's step statistics into host_stats_ (a synchronisation); throws
  // TrainingDiverged when the non-finite limit was reached.
  void sync_stats();
  // Zeroes the statistics of the log window, on the device and in host_stats_.
  void reset_window_stats();
  // After an error in run(): a checkpoint of the last consistent state, when there is one.
  void save_after_error();
  double elapsed_seconds() const;
  // Records end of training time on the wall clock (excluding evaluations and checkpoints).
  void mark_window_time();
  CheckpointData checkpoint_data() const;
  NamedTensors model_tensors() const;
  void info(const std::string& message);

  TrainConfig cfg_;
  Task& task_;
  Generator& gen_;
  nlohmann::ordered_json resolved_config_;
  std::string config_yaml_;
  TrainerOptions options_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::unique_ptr<optim::LrSchedule> schedule_;
  std::vector<Tensor> params_;
  CheckpointManager checkpoints_;
  MetricsWriter metrics_;
  ProgressLine progress_;

  dist::Communicator* comm_ = nullptr;           // data parallel (else null)
  std::unique_ptr<dist::GradReducer> reducer_;  // with comm_
  int world_ = 1;                               // processes training together
  bool writer_ = true;                          // rank 0: metrics.jsonl and checkpoints

  std::optional<DType> autocast_;  // train.precision bf16: the forward passes' autocast dtype
  optim::StepControl control_;      // on the parameters' device
  std::vector<double> host_stats_;  // the last read of control_.stats
  Tensor last_loss_sum_;            // the latest step's loss sum, for the progress line

  bool started_ = false;
  double units_processed_ = 0;
  int64_t step_ = 0;
  int64_t total_steps_ = 0;
  int64_t steps_per_epoch_ = 0;
  double best_loss_ = std::numeric_limits<double>::infinity();
  int64_t best_step_ = -1;
  int64_t last_eval_step_ = -1, last_checkpoint_step_ = -1;
  // Since the last log line, on the host (the device keeps the loss and norm sums and the
  // counts); saved in checkpoints so a resumed run logs the same means.
  struct Window {
    double units = 0, seconds = 0;
    int64_t steps = 0;
  } window_;
  double last_lr_ = 0;

  // Wall clock: training time of the run before this process (from the checkpoint), and this
  // process's start, first step and window mark.
  double elapsed_before_ = 0;
  std::chrono::steady_clock::time_point process_start_, window_mark_;
  int64_t first_step_ = 0;

  // The state at the start of the current step, to save a checkpoint after an error there.
  Phase phase_ = Phase::Boundary;
  nlohmann::json step_start_data_;
  kernels::PhiloxState step_start_rng_{};
};

// "auto" -> cuda:0 when a GPU is usable, else cpu; anything else as parse_device.
Device resolve_device(const std::string& name);

}  // namespace ff::train
