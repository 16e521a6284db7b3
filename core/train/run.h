#pragma once
// What fourierformer-train and fourierformer-eval do once their command line is parsed
// (apps/common/app.h parses it): read and validate the config, set up the work directory and
// logs, print the banner, build the task and train or evaluate. Each returns the process exit
// code (trainer.h: kExitOk, kExitUserError, kExitStopped, kExitDiverged, kExitError) after
// printing any error as one line.
//
// Started as several processes (mpirun, srun; core/dist/launch.h), run_training trains data
// parallel (train.distributed): each process binds the GPU of its local rank (or runs on the
// CPU with the mpi backend), rank 0 checks and writes the work directory while the others wait,
// only rank 0 logs (the others print errors only), and a fatal error on any rank is reported
// naming the rank ("rank 1 of 4: ...") and stops the whole job (dist::abort_job) with its exit
// code. Outcomes every rank reaches together (done, stopped by a signal, the non-finite limit)
// end normally.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor/device.h"
#include "core/train/task.h"
#include "core/train/trainer.h"

namespace ff::train {

struct TrainRunOptions {
  std::filesystem::path config;         // --config FILE
  std::vector<std::string> overrides;   // --set key=value, in order
  std::optional<std::string> work_dir;  // --work-dir DIR (overrides work_dir)
  bool resume = false;                  // --resume [PATH]
  std::string resume_from;              // "" with a bare --resume: <work_dir>/checkpoints/latest
  bool overwrite = false;               // --overwrite: replace the run in the work directory
  bool print_config = false;            // --print-config: print the resolved config and exit
  std::optional<bool> progress;         // progress line; default: when stderr is a terminal
  std::string app_name = "fourierformer-train";
  // Tests: called on every rank after every step (a host read per step).
  std::function<void(const StepRecord&, Trainer&, Task&)> on_step;
};

struct EvalRunOptions {
  std::optional<std::filesystem::path> config;  // default: the checkpoint's config.yaml
  std::vector<std::string> overrides;
  std::filesystem::path checkpoint;            // --checkpoint PATH (resolve_checkpoint rules)
  std::vector<std::string> splits = {"test"};  // --split valid,test
  int64_t max_batches = 0;
  std::optional<std::filesystem::path> json_out;  // --json FILE: results as JSON
  std::string app_name = "fourierformer-eval";
};

int run_training(const TrainRunOptions& options, const TaskFactory& factory);
int run_evaluation(const EvalRunOptions& options, const TaskFactory& factory);

// Runs fn() (returning an exit code); an exception becomes one line on stderr (and in the log
// file, when one is attached) and its exit code: ff::UserError 2, TrainingDiverged 4, anything
// else 1.
int exit_code_of(const std::function<int()>& fn, const std::string& app_name);

// "0.1.0 (git 1a2b3c4d)"; the hash is baked in when FF_GIT_HASH is defined at build time, else
// read from the source tree's git at run time, else "unknown".
std::string version_string();
// One line: app, version, device (name, memory), CUDA runtime/driver, cuDNN and NCCL versions
// (CUDA builds), CPU threads, world size (and, when distributed, "(<backend>, <launcher>)").
std::string banner(const std::string& app_name, Device device, int world_size, const std::string& dist = "");

// Console (stderr) logging through spdlog's default logger; the lines are also kept in memory
// until attach_log_file() writes them to the file, so train.log gets everything from the banner
// on although it is opened only once the work directory has passed its checks.
void setup_logging();
// Appends the kept lines and everything after them to `path` (train.log).
void attach_log_file(const std::filesystem::path& path);

}  // namespace ff::train
