#include "core/train/run.h"

#include <fmt/format.h>
#include <omp.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#ifdef FF_WITH_CUDA
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>

#include "core/cuda/context.h"
#endif

#include "core/autograd/autograd.h"
#include "core/config/config.h"
#include "core/dist/communicator.h"
#include "core/dist/launch.h"
#include "core/io/atomic_file.h"
#include "core/train/signals.h"
#include "core/train/trainer.h"
#include "core/train/work_dir.h"
#include "kernels/device_query.h"

namespace ff::train {

namespace fs = std::filesystem;

namespace {

#ifndef FF_VERSION
#define FF_VERSION "0.1.0"
#endif

// The repository root, from this file's path (core/train/run.cpp).
fs::path source_root() { return fs::path(__FILE__).parent_path().parent_path().parent_path(); }

std::string git_hash_at_runtime() {
  const fs::path root = source_root();
  if (!fs::exists(root / ".git")) return "";
  const std::string cmd = fmt::format("git -C '{}' describe --always --dirty --abbrev=10 2>/dev/null", root.string());
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return "";
  std::array<char, 128> buffer{};
  std::string out;
  while (std::fgets(buffer.data(), buffer.size(), pipe)) out += buffer.data();
  ::pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

void write_text_atomic(const fs::path& path, const std::string& text) {
  io::write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// Checks the device exists here (before any work).
Device checked_device(const std::string& name) {
  const Device device = resolve_device(name);
  if (device.is_cuda()) {
    const int count = kernels::cuda_device_count();
    FF_USER_CHECK(count > 0, "device '{}': no usable GPU ({})", name, kernels::cuda_unavailable_reason());
    FF_USER_CHECK(device.index < count, "device '{}': this machine has {} GPU(s)", name, count);
  }
  return device;
}

void apply_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

std::string default_run_name(const fs::path& config) { return config.stem().string(); }

// An output file the run will write at its end, checked before the work: its directory exists
// and is writable, and it is not a directory.
void check_output_file(const fs::path& path, const char* flag) {
  std::error_code ec;
  FF_USER_CHECK(!fs::is_directory(path, ec), "{} '{}' is a directory; expected a file path", flag, path.string());
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  FF_USER_CHECK(fs::is_directory(dir, ec), "{} '{}': the directory '{}' does not exist", flag, path.string(),
                dir.string());
  FF_USER_CHECK(::access(dir.c_str(), W_OK | X_OK) == 0 && (!fs::exists(path, ec) || ::access(path.c_str(), W_OK) == 0),
                "{} '{}' is not writable", flag, path.string());
}

}  // namespace

std::string version_string() {
#ifdef FF_GIT_HASH
  static const std::string hash = FF_GIT_HASH;
#else
  static const std::string hash = [] {
    std::string h = git_hash_at_runtime();
    return h.empty() ? std::string("unknown") : h;
  }();
#endif
  return fmt::format("{} (git {})", FF_VERSION, hash);
}

std::string banner(const std::string& app_name, Device device, int world_size, const std::string& dist) {
  std::string text = fmt::format("{} {} | device {}", app_name, version_string(), device.str());
#ifdef FF_WITH_CUDA
  if (device.is_cuda()) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device.index) == cudaSuccess)
      text += fmt::format(" ({}, {:.1f} GiB, sm_{}{})", prop.name, static_cast<double>(prop.totalGlobalMem) / (1 << 30),
                          prop.major, prop.minor);
  }
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  // Without a driver this reports 0 and the runtime's first call fails with "driver version is
  // insufficient": on a machine without a GPU that is the expected state, not an error to show.
  cudaDriverGetVersion(&driver);
  text += fmt::format(" | CUDA runtime {}.{}", runtime / 1000, (runtime % 1000) / 10);
  if (driver > 0) text += fmt::format(", driver {}.{}", driver / 1000, (driver % 1000) / 10);
  if (kernels::cuda_device_count() == 0) text += ", no GPU";
  int nccl = 0;
  ncclGetVersion(&nccl);
  const size_t cudnn = cudnnGetVersion();
  text += fmt::format(" | cuDNN {}.{}.{} | NCCL {}.{}.{}", cudnn / 10000, (cudnn % 10000) / 100, cudnn % 100,
                      nccl / 10000, (nccl % 10000) / 100, nccl % 100);
#else
  text += " | built without CUDA";
#endif
  // The apps set OMP_WAIT_POLICY=PASSIVE unless the user chose (apps/common/cli.h).
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  text += fmt::format(" | threads {} (OpenMP wait {}) | world size {}", omp_get_max_threads(),
                      wait != nullptr ? wait : "default", world_size);
  if (!dist.empty()) text += fmt::format(" ({})", dist);
  return text;
}

namespace {

// The logger's sinks: stderr, the lines kept until train.log is attached, and train.log.
struct LogSinks {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> kept;
  std::shared_ptr<spdlog::sinks::basic_file_sink_mt> file;
};
LogSinks g_sinks;
// A multi-process job: "rank 1 of 4: " before fatal errors, and (ranks other than 0, which do
// not keep train.log) the log that their fatal error is appended to.
std::string g_rank_prefix;
fs::path g_fatal_log;

constexpr const char* kLogPattern = "[%Y-%m-%d %H:%M:%S] [%^%l%$] %v";
constexpr size_t kKeptLines = 4096;

}  // namespace

void setup_logging() {
  g_sinks = LogSinks{.kept = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(kKeptLines), .file = nullptr};
  std::vector<spdlog::sink_ptr> sinks = {std::make_shared<spdlog::sinks::stderr_color_sink_mt>(), g_sinks.kept};
  auto logger = std::make_shared<spdlog::logger>("ff", sinks.begin(), sinks.end());
  logger->set_pattern(kLogPattern);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void attach_log_file(const fs::path& path) {
  auto logger = spdlog::default_logger();
  {
    std::ofstream out(path, std::ios::app);
    FF_USER_CHECK(out.good(), "cannot write the log file '{}'", path.string());
    if (g_sinks.kept)
      for (const std::string& line : g_sinks.kept->last_formatted()) out << line;
  }
  auto& sinks = logger->sinks();
  if (g_sinks.kept) sinks.erase(std::remove(sinks.begin(), sinks.end(), g_sinks.kept), sinks.end());
  g_sinks.kept = nullptr;
  g_sinks.file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path.string(), /*truncate=*/false);
  g_sinks.file->set_pattern(kLogPattern);
  sinks.push_back(g_sinks.file);
}

namespace {

// A fatal error as one line on stderr, and in train.log when the run has one.
void report_fatal(const std::string& app_name, const char* kind, const std::string& message) {
  spdlog::default_logger()->flush();
  const std::string line = fmt::format("{}: {}: {}{}", app_name, kind, g_rank_prefix, message);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
  if (g_sinks.file) {
    const spdlog::details::log_msg msg(spdlog::source_loc{}, "ff", spdlog::level::err, line);
    g_sinks.file->log(msg);
    g_sinks.file->flush();
  } else if (!g_fatal_log.empty()) {
    std::ofstream(g_fatal_log, std::ios::app) << line << "\n";  // one short append next to rank 0's lines
  }
}

// Data parallel: what the config and the launcher ask for, checked before any work.
struct DistPlan {
  dist::LaunchInfo launch;
  bool data_parallel = false;
  std::string backend;
};

DistPlan plan_distribution(const TrainConfig& cfg, Device device) {
  DistPlan plan;
  plan.launch = dist::launch_info();
  const int world = plan.launch.world_size;
  const DistributedConfig& d = cfg.distributed;
  FF_USER_CHECK(!(d.mode == "none" && world > 1),
                "train.distributed.mode is none but the launcher started {} processes ({}): set it to auto or "
                "data_parallel, or start one process",
                world, dist::describe(plan.launch));
  plan.data_parallel = d.mode == "data_parallel" || (d.mode == "auto" && world > 1);
  if (!plan.data_parallel) return plan;
  plan.backend = d.backend != "auto" ? d.backend : world == 1 ? "local" : device.is_cuda() ? "nccl" : "mpi";
  FF_USER_CHECK(plan.backend != "nccl" || device.is_cuda(),
                "train.distributed.backend nccl reduces CUDA tensors; device is {} (use mpi on the CPU)", device.str());
  FF_USER_CHECK(plan.backend != "mpi" || device.is_cpu(),
                "train.distributed.backend mpi reduces CPU tensors; device is {} (use nccl on GPUs)", device.str());
  FF_USER_CHECK(plan.backend != "local" || world == 1,
                "train.distributed.backend local runs one process; the launcher started {} ({})", world,
                dist::describe(plan.launch));
  FF_USER_CHECK(dist::has_backend(plan.backend), "train.distributed.backend {}: not built here ({})", plan.backend,
                plan.backend == "mpi" ? "install libopenmpi-dev with scripts/setup.sh and rebuild" : "a CUDA build");
  return plan;
}

// Each process of a data-parallel job binds the GPU of its local rank.
Device rank_device(const TrainConfig& cfg, Device device, const dist::LaunchInfo& launch) {
  if (!device.is_cuda() || launch.world_size == 1) return device;
  FF_USER_CHECK(cfg.device == "auto" || cfg.device == "cuda",
                "device '{}' names one GPU, but each of the {} processes binds the GPU of its local rank: set device "
                "to cuda (or auto)",
                cfg.device, launch.world_size);
  return Device::cuda(dist::local_gpu(launch, kernels::cuda_device_count()));
}

}  // namespace

int exit_code_of(const std::function<int()>& fn, const std::string& app_name) {
  try {
    return fn();
  } catch (const UserError& e) {
    report_fatal(app_name, "error", e.what());
    return kExitUserError;
  } catch (const TrainingDiverged& e) {
    report_fatal(app_name, "stopped", e.what());
    return kExitDiverged;
  } catch (const std::exception& e) {
    report_fatal(app_name, "internal error", e.what());
    return kExitError;
  }
}

int run_training(const TrainRunOptions& options, const TaskFactory& factory) {
  setup_logging();
  std::unique_ptr<dist::Communicator> comm;  // data parallel; outlives the trainer
  const int code = exit_code_of(
      [&]() -> int {
        // 1. The whole config, validated, before any work.
        config::Document doc = config::Document::from_file(options.config);
        doc.apply_overrides(options.overrides);
        if (options.work_dir) doc.apply_override("work_dir=" + nlohmann::json(*options.work_dir).dump());
        const config::Section root = doc.root();
        const TrainConfig cfg = parse_train_config(root, default_run_name(options.config));
        TaskBuilder build = factory(root);
        doc.check_no_unknown_keys();
        if (options.print_config) {
          std::cout << doc.resolved_yaml() << std::flush;
          return kExitOk;
        }
        const DistPlan plan = plan_distribution(cfg, resolve_device(cfg.device));
        if (plan.launch.world_size > 1) g_rank_prefix = dist::describe(plan.launch) + ": ";
        const Device device = rank_device(cfg, checked_device(cfg.device), plan.launch);
        apply_threads(cfg.threads);
        if (options.resume && !options.resume_from.empty()) resolve_checkpoint(options.resume_from);
        if (plan.data_parallel) {
          comm = dist::make_communicator({.backend = plan.backend,
                                          .launch = plan.launch,
                                          .device = device,
                                          .timeout_s = cfg.distributed.timeout_s,
                                          .rendezvous = std::getenv("FF_RENDEZVOUS") ? std::getenv("FF_RENDEZVOUS") : ""});
          dist::set_fatal_reporter([app = options.app_name](const std::string& m) { report_fatal(app, "error", m); });
        }
        // Rank 0 keeps the work directory and the log; the others print errors only.
        const bool writer = !comm || comm->rank() == 0;
        if (!writer) spdlog::set_level(spdlog::level::err);

        // 2. The work directory (work_dir.h): refused when it holds a run we were not asked to
        //    continue or replace. train.log from here on, except for --overwrite, whose old log
        //    stays until the start has passed every check. The other ranks wait for rank 0.
        auto open_work_dir = [&] {
          std::error_code ec;
          fs::create_directories(cfg.work_dir, ec);
          FF_USER_CHECK(!ec, "cannot create the work directory '{}': {}", cfg.work_dir.string(), ec.message());
          attach_log_file(cfg.work_dir / "train.log");
        };
        if (writer) {
          check_work_dir(cfg.work_dir, options.resume, options.overwrite);
          if (!options.overwrite) open_work_dir();
        }
        if (comm) comm->barrier();
        if (!writer) g_fatal_log = cfg.work_dir / "train.log";
        spdlog::info("{}", banner(options.app_name, device, plan.launch.world_size,
                                  comm ? fmt::format("{} backend, {}", comm->backend(),
                                                     plan.launch.launcher.empty() ? "one process" : plan.launch.launcher)
                                       : ""));
        spdlog::info("config {} (work dir {})", options.config.string(), cfg.work_dir.string());
#ifdef FF_WITH_CUDA
        cuda::set_allow_tf32(cfg.tf32);
#endif

        // 3. Task, and every split the run will score.
        Generator gen(cfg.seed);
        TaskContext context{.train = cfg,
                            .device = device,
                            .gen = gen,
                            .work_dir = cfg.work_dir,
                            .training = true,
                            .rank = comm ? comm->rank() : 0,
                            .world_size = comm ? comm->size() : 1,
                            .comm = comm.get()};
        std::unique_ptr<Task> task = build(context);
        task->check_split(cfg.eval_split);
        if (options.overwrite && writer) {
          const std::vector<std::string> removed = remove_previous_run(cfg.work_dir);
          open_work_dir();
          std::string list;
          for (const std::string& r : removed) list += (list.empty() ? "" : ", ") + r;
          if (!removed.empty()) spdlog::info("--overwrite: removed {} from {}", list, cfg.work_dir.string());
        }
        if (comm) comm->barrier();

        // 4. The trainer: a resume either succeeds or stops here, before config.yaml changes.
        install_stop_handlers();
        TrainerOptions trainer_options;
        trainer_options.resume = options.resume;
        trainer_options.resume_from = options.resume_from;
        trainer_options.progress = writer && options.progress.value_or(ProgressLine::stderr_is_terminal());
        trainer_options.version = version_string();
        trainer_options.comm = comm.get();
        Trainer* trainer_ptr = nullptr;
        if (options.on_step)
          trainer_options.on_step = [&](const StepRecord& r) { options.on_step(r, *trainer_ptr, *task); };
        Trainer trainer(cfg, *task, gen, doc.resolved(), trainer_options);
        trainer_ptr = &trainer;
        trainer.start();
        if (writer) {
          write_text_atomic(cfg.work_dir / "config.yaml", doc.resolved_yaml());
          spdlog::info("resolved config: {}", (cfg.work_dir / "config.yaml").string());
        }
        return trainer.run() == TrainOutcome::Stopped ? kExitStopped : kExitOk;
      },
      options.app_name);
  // Finished, stopped and diverged runs end on every rank at the same step; any other error may
  // be this rank's alone while the others wait in a collective.
  if (comm && comm->size() > 1 && code != kExitOk && code != kExitStopped && code != kExitDiverged)
    dist::abort_job(code);
  comm.reset();
  dist::finalize();
  return code;
}

int run_evaluation(const EvalRunOptions& options, const TaskFactory& factory) {
  setup_logging();
  return exit_code_of(
      [&]() -> int {
        const fs::path ckpt_dir = resolve_checkpoint(options.checkpoint);
        // Verified before anything of it (its config.yaml included) is trusted.
        LoadedCheckpoint ckpt = read_checkpoint(ckpt_dir);
        const fs::path config_path = options.config.value_or(ckpt_dir / "config.yaml");
        config::Document doc = config::Document::from_file(config_path);
        doc.apply_overrides(options.overrides);
        const config::Section root = doc.root();
        const TrainConfig cfg = parse_train_config(root, default_run_name(config_path));
        TaskBuilder build = factory(root);
        doc.check_no_unknown_keys();
        const dist::LaunchInfo launch = dist::launch_info();
        FF_USER_CHECK(launch.world_size == 1,
                      "{} runs as one process, but the launcher started {} ({}): run it without mpirun or srun",
                      options.app_name, launch.world_size, dist::describe(launch));
        const Device device = checked_device(cfg.device);
        apply_threads(cfg.threads);
        if (options.json_out) check_output_file(*options.json_out, "--json");
        spdlog::info("{}", banner(options.app_name, device, 1));

        Generator gen(cfg.seed);
        TaskContext context{.train = cfg, .device = device, .gen = gen, .work_dir = cfg.work_dir, .training = false};
        std::unique_ptr<Task> task = build(context);
        for (const std::string& split : options.splits) task->check_split(split);
        NamedTensors tensors = task->model().named_parameters();
        for (auto& b : task->model().named_buffers()) tensors.push_back(b);
        load_tensors_into(ckpt.model, tensors, (ckpt_dir / "model.safetensors").string());
        spdlog::info("loaded {} (step {})", ckpt_dir.string(), ckpt.trainer["step"].get<int64_t>());

        nlohmann::ordered_json results;
        results["checkpoint"] = ckpt_dir.string();
        results["step"] = ckpt.trainer["step"];
        NoGradGuard no_grad;
        AutocastGuard autocast(cfg.precision == "bf16" ? std::optional<DType>(DType::BF16) : std::nullopt);
        task->model().eval();
        ProgressLine progress(ProgressLine::stderr_is_terminal());
        std::string nonfinite;
        for (const std::string& split : options.splits) {
          EvalResult r;
          {
            EvalProgressLine eval_line(progress, fmt::format("{} {}", options.app_name, split));
            r = task->evaluate(split, options.max_batches, eval_line.callback());
          }
          if (!std::isfinite(r.loss))
            nonfinite += fmt::format("{}split '{}' has loss {}", nonfinite.empty() ? "" : ", ", split, r.loss);
          nlohmann::ordered_json entry{{"loss", r.loss}, {"units", r.units}};
          std::string line = fmt::format("{}: loss {:.4f}", split, r.loss);
          for (const auto& [k, v] : r.metrics) {
            entry[k] = v;
            line += fmt::format(" | {} {:.4f}", k, v);
          }
          line += fmt::format(" | {} {}", format_count(r.units), task->unit());
          spdlog::info("{}", line);
          std::cout << line << std::endl;
          results["splits"][split] = entry;
        }
        if (options.json_out) write_text_atomic(*options.json_out, results.dump(2) + "\n");
        if (!nonfinite.empty()) {
          spdlog::error("non-finite result: {} (the checkpoint's weights or the data give NaN or infinity)",
                        nonfinite);
          return kExitDiverged;
        }
        return kExitOk;
      },
      options.app_name);
}

}  // namespace ff::train
