#include "core/train/run.h"

#include <fmt/format.h>
#include <omp.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <stdio.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iostream>

#ifdef FF_WITH_CUDA
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>
#endif

#include "core/autograd/autograd.h"
#include "core/config/config.h"
#include "core/io/atomic_file.h"
#include "core/train/signals.h"
#include "core/train/trainer.h"
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

std::string banner(const std::string& app_name, Device device, int world_size) {
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
  text += fmt::format(" | threads {} | world size {}", omp_get_max_threads(), world_size);
  return text;
}

void setup_logging(const std::optional<fs::path>& log_file) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (log_file)
    sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file->string(), /*truncate=*/false));
  auto logger = std::make_shared<spdlog::logger>("ff", sinks.begin(), sinks.end());
  logger->set_pattern("[%Y-%m-%d %H:%M:%S] [%^%l%$] %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

int exit_code_of(const std::function<int()>& fn, const std::string& app_name) {
  try {
    return fn();
  } catch (const UserError& e) {
    spdlog::default_logger()->flush();
    std::fprintf(stderr, "%s: error: %s\n", app_name.c_str(), e.what());
    return kExitUserError;
  } catch (const TrainingDiverged& e) {
    spdlog::error("{}", e.what());
    return kExitDiverged;
  } catch (const std::exception& e) {
    spdlog::default_logger()->flush();
    std::fprintf(stderr, "%s: internal error: %s\n", app_name.c_str(), e.what());
    return kExitError;
  }
}

int run_training(const TrainRunOptions& options, const TaskFactory& factory) {
  return exit_code_of(
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
        const Device device = checked_device(cfg.device);
        apply_threads(cfg.threads);
        if (options.resume && !options.resume_from.empty()) resolve_checkpoint(options.resume_from);

        // 2. The work directory: resolved config, logs.
        std::error_code ec;
        fs::create_directories(cfg.work_dir, ec);
        FF_USER_CHECK(!ec, "cannot create the work directory '{}': {}", cfg.work_dir.string(), ec.message());
        write_text_atomic(cfg.work_dir / "config.yaml", doc.resolved_yaml());
        setup_logging(cfg.work_dir / "train.log");
        spdlog::info("{}", banner(options.app_name, device, 1));
        spdlog::info("config {} -> {} (work dir {})", options.config.string(), (cfg.work_dir / "config.yaml").string(),
                     cfg.work_dir.string());

        // 3. Task, trainer.
        install_stop_handlers();
        Generator gen(cfg.seed);
        TaskContext context{.train = cfg, .device = device, .gen = gen, .work_dir = cfg.work_dir, .training = true};
        std::unique_ptr<Task> task = build(context);
        TrainerOptions trainer_options;
        trainer_options.resume = options.resume;
        trainer_options.resume_from = options.resume_from;
        trainer_options.progress = options.progress.value_or(ProgressLine::stderr_is_terminal());
        trainer_options.version = version_string();
        Trainer trainer(cfg, *task, gen, doc.resolved(), trainer_options);
        return trainer.run() == TrainOutcome::Stopped ? kExitStopped : kExitOk;
      },
      options.app_name);
}

int run_evaluation(const EvalRunOptions& options, const TaskFactory& factory) {
  return exit_code_of(
      [&]() -> int {
        const fs::path ckpt_dir = resolve_checkpoint(options.checkpoint);
        const fs::path config_path = options.config.value_or(ckpt_dir / "config.yaml");
        config::Document doc = config::Document::from_file(config_path);
        doc.apply_overrides(options.overrides);
        const config::Section root = doc.root();
        const TrainConfig cfg = parse_train_config(root, default_run_name(config_path));
        TaskBuilder build = factory(root);
        doc.check_no_unknown_keys();
        const Device device = checked_device(cfg.device);
        apply_threads(cfg.threads);
        setup_logging(std::nullopt);
        spdlog::info("{}", banner(options.app_name, device, 1));

        LoadedCheckpoint ckpt = read_checkpoint(ckpt_dir);
        Generator gen(cfg.seed);
        TaskContext context{.train = cfg, .device = device, .gen = gen, .work_dir = cfg.work_dir, .training = false};
        std::unique_ptr<Task> task = build(context);
        NamedTensors tensors = task->model().named_parameters();
        for (auto& b : task->model().named_buffers()) tensors.push_back(b);
        load_tensors_into(ckpt.model, tensors, (ckpt_dir / "model.safetensors").string());
        spdlog::info("loaded {} (step {})", ckpt_dir.string(), ckpt.trainer["step"].get<int64_t>());

        nlohmann::ordered_json results;
        results["checkpoint"] = ckpt_dir.string();
        results["step"] = ckpt.trainer["step"];
        NoGradGuard no_grad;
        task->model().eval();
        for (const std::string& split : options.splits) {
          EvalResult r = task->evaluate(split, options.max_batches);
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
        return kExitOk;
      },
      options.app_name);
}

}  // namespace ff::train
