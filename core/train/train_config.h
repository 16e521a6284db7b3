#pragma once
// The trainer's part of a run's config: the top-level run keys (name, work_dir, seed, device,
// threads) and the `train:` section. Every key, its type, default and meaning is listed in
// docs/configs.md; the task (model:, data:) parses its own sections.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/optim/optimizer.h"
#include "core/optim/scheduler.h"

namespace ff::train {

struct OptimizerConfig {
  std::string name = "adamw";  // adam | adamw | sgd
  double lr = 1e-3;
  // > 0: the linear scaling rule, as DeiT: the peak lr is lr * (global batch per step) /
  // lr_reference_batch, the global batch being the task's batch over all ranks times grad_accum.
  int64_t lr_reference_batch = 0;
  std::vector<double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  // Parameters not decayed besides 1-D ones (biases, norms): dotted-name suffixes.
  std::vector<std::string> no_decay = {};
  double momentum = 0.0;  // sgd
  bool nesterov = false;  // sgd
};

struct SchedulerConfig {
  std::string name = "cosine";  // cosine | constant | inverse_sqrt
  std::string unit = "step";    // step | epoch (the lr changes once per epoch, as DeiT)
  int64_t warmup = 0;           // in `unit`s
  double warmup_lr = 0.0;       // lr at the first step
  double min_lr = 0.0;          // cosine floor
  bool warmup_prefix = false;   // cosine starts after the warmup instead of at 0
};

struct CheckpointConfig {
  int64_t interval = 1000;  // steps between checkpoints; 0: only at the end (and on signals)
  int64_t keep_last = 3;    // step checkpoints kept (the best is kept apart)
  bool keep_best = true;    // checkpoints/best/: lowest validation loss so far
};

struct NonfiniteConfig {
  std::string policy = "skip";  // skip: drop the update; abort: stop at the first one
  int64_t max_in_a_row = 10;    // skip: abort after this many consecutive non-finite steps
};

// Data parallelism (docs/distributed.md). The launcher (mpirun, srun, FF_RANK...) says how
// many processes there are; these keys say what to do with them.
struct DistributedConfig {
  std::string mode = "auto";     // auto: data_parallel when started as 2+ processes | none | data_parallel
  std::string backend = "auto";  // auto: nccl on CUDA, mpi on the CPU, local alone | local | mpi | nccl
  double bucket_mb = 25.0;       // gradient bucket size (MiB), as DDP's bucket_cap_mb
  double timeout_s = 600.0;      // a collective (or rank 0's checkpoint write) not done by then stops the job
};

struct TrainConfig {
  // ---- run (top level) ----
  std::string name;                // run name (default: the config file's stem)
  std::filesystem::path work_dir;  // default runs/<name>
  uint64_t seed = 1;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int threads = 0;              // CPU threads; 0: OpenMP's default (all cores)
  // ---- train: ----
  int64_t max_steps = 0;  // optimizer steps; 0: max_epochs * steps per epoch
  int64_t max_epochs = 0;
  int64_t grad_accum = 1;       // micro-batches per step
  double clip_grad_norm = 0.0;  // global-norm clip; 0: off (the norm is still logged)
  int64_t log_interval = 100;
  int64_t eval_interval = 1000;  // 0: only at the end
  std::string eval_split = "valid";
  int64_t eval_max_batches = 0;  // passed to the task; 0: the whole split
  std::string precision = "fp32";  // fp32 | bf16 (autocast: bf16 GEMMs and attention, f32 weights)
  bool tf32 = false;               // CUDA: f32 GEMMs may use TF32 tensor cores
  OptimizerConfig optimizer;
  SchedulerConfig scheduler;
  CheckpointConfig checkpoint;
  NonfiniteConfig nonfinite;
  DistributedConfig distributed;
};

// Reads and validates the run keys and train:. `default_name` names the run when the file
// has no `name` (the config file's stem).
TrainConfig parse_train_config(const config::Section& root, const std::string& default_name);

// The optimizer over the given groups (their lr and weight decay are overwritten from cfg).
std::unique_ptr<optim::Optimizer> make_optimizer(const OptimizerConfig& cfg, std::vector<optim::ParamGroup> groups);
// The schedule over `total_steps`; steps_per_epoch is needed when unit is epoch.
std::unique_ptr<optim::LrSchedule> make_schedule(const TrainConfig& cfg, int64_t total_steps, int64_t steps_per_epoch);

}  // namespace ff::train
