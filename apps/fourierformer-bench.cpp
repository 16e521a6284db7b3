// fourierformer-bench: speed and memory of the framework's pieces, measured the same way every
// time (median of repeats after warm-up; device synchronisation around each repeat on CUDA),
// printed as a table and, with --json, written as JSON.
//
//   fourierformer-bench attention --kind fourier --shape 48,8,256,256,16 --causal
//   fourierformer-bench attention --kind fourier_rf --features 256 --shape 48,8,256,256,16 --causal
//   fourierformer-bench attention --kind rfa --features 256 --shape 48,8,256,256,16 --causal
//   fourierformer-bench attention --kind flt --features 32 --position-features 16 --shape 1,4,4096,4096,32 --causal
//   fourierformer-bench --device cuda --json out.json attention --shapes paper
//   fourierformer-bench --threads 2 train --config configs/lm/brown-small-fourier.yaml --steps 20
//   fourierformer-bench --precision bf16 train --config configs/lm/brown-small-softmax.yaml
//   fourierformer-bench data --path /data/imagenet --workers 1,2,4,8
//   mpirun -np 2 fourierformer-bench allreduce --bytes 1048576,67108864      (mpi backend, CPU)
//   mpirun -np 8 fourierformer-bench --device cuda allreduce                 (nccl backend)

#include <CLI/CLI.hpp>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "apps/common/cli.h"
#include "apps/tasks/registry.h"
#include "data/image/image_source.h"
#include "data/image/loader.h"
#include "core/config/config.h"
#include "core/dist/communicator.h"
#include "core/dist/launch.h"
#include "core/ops/ops.h"
#include "core/train/run.h"
#include "core/train/trainer.h"
#include "kernels/device_query.h"
#include "models/attention/fourier_learner.h"
#include "models/attention/multi_head_attention.h"

#ifdef FF_WITH_CUDA
#include "core/cuda/context.h"
#endif

namespace {

using namespace ff;
using json = nlohmann::json;

struct AttentionCase {
  std::string name;
  std::string kind;  // softmax | fourier | fourier_rf | rfa | flt
  int64_t B, H, Nq, Nk, D;
  bool causal;
  int64_t features = 256;          // fourier_rf, rfa: random frequencies m; flt: positive features m
  int64_t position_features = 16;  // flt: mask frequencies s
};

// The paper's shapes: LM small and medium (causal), DeiT-tiny (no mask), each kind.
std::vector<AttentionCase> paper_cases() {
  std::vector<AttentionCase> cases;
  for (std::string kind : {"fourier", "softmax"}) {
    cases.push_back({"lm-small", kind, 48, 8, 256, 256, 16, true});
    cases.push_back({"lm-medium", kind, 28, 8, 384, 384, 32, true});
    cases.push_back({"deit-tiny", kind, 256, 3, 197, 197, 64, false});
  }
  return cases;
}

void synchronize(Device device) {
#ifdef FF_WITH_CUDA
  if (device.is_cuda()) cuda::synchronize(device.index);
#else
  (void)device;
#endif
}

// Median wall time in seconds of fn over `repeats` runs after `warmup` runs.
template <typename Fn>
double median_seconds(Device device, int warmup, int repeats, Fn&& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  synchronize(device);
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    fn();
    synchronize(device);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

json bench_attention(const AttentionCase& c, Device device, DType dtype, int warmup, int repeats) {
  Generator gen(1234);
  // Inputs at the LM's realistic scale (DESIGN.md: entries with std ~0.25), in the benchmark's
  // precision (bf16: the op's bf16 path, docs/precision.md).
  auto make = [&](int64_t n) {
    Tensor t = Tensor::empty({c.B, n, c.H, c.D}, DType::F32, device);
    normal_(t, 0.0, 0.25, gen);
    return to_dtype(t, dtype).detach().set_requires_grad(true);
  };
  Tensor q = make(c.Nq), k = make(c.Nk), v = make(c.Nk);
  AttentionOptions options;
  options.causal = c.causal;
  if (c.kind != "softmax") {
    options.score = kernels::AttentionScore::Fourier;
    options.R = Tensor::full({1}, 2.0, DType::F32, device).set_requires_grad(true);
  }
  // fourier_rf: the same kernel estimated with `features` frequencies; rfa: RFA's random-feature
  // softmax with Gaussian frequencies (core/ops/linear_attention.h).
  Tensor freqs;
  if (c.kind == "fourier_rf") freqs = sinc_frequencies(c.features, c.D, options.p, gen.next(), DType::F32, device);
  if (c.kind == "rfa") freqs = gaussian_frequencies(c.features, c.D, gen.next(), DType::F32, device);
  // flt: a layer's FourierLearner attention (4 mixture components) over token positions 0..N-1,
  // the queries at the last Nq of them (models/attention/fourier_learner.h).
  std::unique_ptr<models::FourierLearnerAttention> flt;
  Tensor q_pos, k_pos;
  if (c.kind == "flt") {
    const models::FltConfig fc{.features = int(c.features), .position_features = int(c.position_features)};
    flt = std::make_unique<models::FourierLearnerAttention>(c.H, c.D, 1, fc, gen, DType::F32);
    flt->to(device);
    k_pos = models::sequence_positions(c.Nk, DType::F32, device);
    q_pos = narrow(k_pos, 0, c.Nk - c.Nq, c.Nq);
  }
  const LinearAttentionOptions rf_options{.causal = c.causal, .eps = options.eps};
  auto bhnd = [](const Tensor& x) { return permute(x, {0, 2, 1, 3}); };
  Tensor grad_out = Tensor::ones({c.B, c.H, c.Nq, c.D}, dtype, device);
  auto run = [&] {
    if (c.kind == "fourier_rf") return fourier_rf_attention(bhnd(q), bhnd(k), bhnd(v), freqs, options.R, rf_options);
    if (c.kind == "rfa") return rfa_attention(bhnd(q), bhnd(k), bhnd(v), freqs, options.R, rf_options);
    if (c.kind == "flt") return flt->forward(bhnd(q), bhnd(k), bhnd(v), q_pos, k_pos, rf_options);
    return attention(bhnd(q), bhnd(k), bhnd(v), options);
  };

  auto forward = [&] {
    NoGradGuard no_grad;
    run();
  };
  auto forward_backward = [&] {
    Tensor out = run();
    out.backward(grad_out);
  };
  double fwd = median_seconds(device, warmup, repeats, forward);
  double fwd_bwd = median_seconds(device, warmup, repeats, forward_backward);

  // Peak memory above what the inputs hold, during one forward+backward.
  synchronize(device);
  size_t base = memory_stats(device).current;
  reset_peak_memory(device);
  forward_backward();
  synchronize(device);
  size_t peak_extra = memory_stats(device).peak - base;

  // (query, key) pairs that are scored: causal skips the upper triangle.
  double pairs = double(c.B) * c.H * c.Nq * c.Nk;
  if (c.causal) pairs = double(c.B) * c.H * (double(c.Nq) * (c.Nq + 1) / 2 + double(c.Nq) * (c.Nk - c.Nq));
  json r = {{"name", c.name}, {"kind", c.kind}, {"device", device.str()}, {"dtype", dtype_name(dtype)},
            {"shape", {c.B, c.H, c.Nq, c.Nk, c.D}}, {"causal", c.causal},
            {"forward_ms", fwd * 1e3}, {"forward_backward_ms", fwd_bwd * 1e3},
            {"peak_extra_bytes", peak_extra}};
  if (c.kind == "fourier_rf" || c.kind == "rfa" || c.kind == "flt") r["features"] = c.features;
  if (c.kind == "flt") r["position_features"] = c.position_features;
  if (c.kind == "softmax") {
    // 2 GEMM-like products forward (QK^T, PV), 5 backward: 4*D and 10*D flops per pair.
    r["forward_tflops"] = 4.0 * c.D * pairs / fwd / 1e12;
    r["forward_backward_tflops"] = 14.0 * c.D * pairs / fwd_bwd / 1e12;
  } else if (c.kind == "fourier") {
    // The Fourier score is elementwise work: (query, key, dim) triples per second.
    r["forward_gtriples_per_s"] = c.D * pairs / fwd / 1e9;
  }
  return r;
}

// fp32 GEMM rate of the device in GFLOP/s: 2048^3 through matmul, the median of 5 after one warm-up.
double sgemm_gflops(Device device) {
  const int64_t n = 2048;
  Generator gen(7);
  Tensor a = Tensor::empty({n, n}, DType::F32, device), b = Tensor::empty({n, n}, DType::F32, device);
  uniform_(a, -1.0, 1.0, gen);
  uniform_(b, -1.0, 1.0, gen);
  NoGradGuard no_grad;
  const double seconds = median_seconds(device, 1, 5, [&] { matmul(a, b); });
  return 2.0 * double(n) * n * n / seconds / 1e9;
}

// Training throughput of a config: the trainer's own step (forward, backward, clipping,
// optimizer), timed after warm-up, with peak memory over the timed steps.
json bench_train(const std::string& config_path, const std::vector<std::string>& overrides,
                 const std::string& device_override, int warmup, int steps) {
  config::Document doc = config::Document::from_file(config_path);
  doc.apply_overrides(overrides);
  if (!device_override.empty()) doc.apply_override("device=" + device_override);
  const auto work_dir = std::filesystem::temp_directory_path() / fmt::format("ff-bench-train-{}", ::getpid());
  doc.apply_override("work_dir=" + json(work_dir.string()).dump());
  const config::Section root = doc.root();
  const train::TrainConfig cfg = train::parse_train_config(root, "bench");
  train::TaskBuilder build = apps::task_factory()(root);
  doc.check_no_unknown_keys();
  const Device device = train::resolve_device(cfg.device);
  FF_USER_CHECK(device.is_cpu() || kernels::cuda_device_count() > device.index, "device {}: no such GPU ({})",
                device.str(), kernels::cuda_unavailable_reason());

  Generator gen(cfg.seed);
  train::TaskContext context{.train = cfg, .device = device, .gen = gen, .work_dir = work_dir, .training = true};
  std::unique_ptr<train::Task> task = build(context);
  // No on_step hook: the steps run as in training, without a host read each.
  train::Trainer trainer(cfg, *task, gen, doc.resolved());
  task->model().train();
  for (int i = 0; i < warmup; ++i) trainer.train_step();
  synchronize(device);
  const double units_before = trainer.units_processed();
  size_t base = memory_stats(device).current;
  reset_peak_memory(device);
  reset_model_flops();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) trainer.train_step();
  synchronize(device);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double units = trainer.units_processed() - units_before, flops = model_flops();
  const size_t peak_extra = memory_stats(device).peak - base;
  std::filesystem::remove_all(work_dir);
  // The ceiling the model FLOP rate is held against: an fp32 GEMM on the same device, now.
  const double sgemm = sgemm_gflops(device);
  const double model_gflops = flops / seconds / 1e9;
  return {{"config", config_path},     {"device", device.str()},          {"precision", cfg.precision},
          {"steps", steps},
          {"warmup", warmup},          {"units", task->unit()},           {"units_per_step", units / steps},
          {"step_ms", seconds / steps * 1e3}, {"units_per_s", units / seconds}, {"last_loss", trainer.last_loss()},
          {"parameters", task->model().num_parameters()},
          {"peak_extra_bytes", peak_extra},
          {"model_gflop_per_step", flops / steps / 1e9}, {"model_gflops", model_gflops},
          {"sgemm_gflops", sgemm},     {"sgemm_fraction", model_gflops / sgemm}};
}

// Decode + augment throughput: DeiT's train (or eval) transform on an ImageFolder split through
// the loader with each number of worker threads, timed over `images` images after one warm-up
// batch (the file list and the page cache warm).
json bench_data(const std::string& path, const std::string& split, bool eval, int64_t image_size,
                const std::vector<int64_t>& workers, int64_t images, int64_t batch_size, bool scaled_decode) {
  const data::ImageSource source(split, data::ImageFolder::open(path, split));
  FF_USER_CHECK(source.size() > 0, "{}/{}: no images", path, split);
  data::TrainTransformConfig train_cfg;
  train_cfg.image_size = image_size;
  data::EvalTransformConfig eval_cfg;
  eval_cfg.image_size = image_size;
  const data::TrainTransform train(train_cfg);
  const data::EvalTransform evaluate(eval_cfg);
  const int64_t floats = 3 * image_size * image_size;
  json rows = json::array();
  for (int64_t w : workers) {
    data::LoaderOptions o;
    o.batch_size = batch_size;
    o.sample_floats = floats;
    o.threads = static_cast<int>(w);
    data::BatchLoader loader(o, [&](int64_t sample, int64_t epoch, int64_t slot, data::SampleBatch& batch) {
      thread_local data::TransformScratch scratch;
      const int64_t i = sample % source.size();
      if (eval) {
        source.eval_sample(i, evaluate, scaled_decode, batch.image(slot), scratch);
      } else {
        data::SampleRng rng(0, static_cast<uint64_t>(epoch), static_cast<uint64_t>(sample));
        source.train_sample(i, rng, train, scaled_decode, batch.image(slot), scratch);
      }
      batch.labels[static_cast<size_t>(slot)] = source.label(i);
    });
    const int64_t batches = 1 + (images + batch_size - 1) / batch_size;
    std::vector<int64_t> order(static_cast<size_t>(batches * batch_size));
    for (size_t k = 0; k < order.size(); ++k) order[k] = static_cast<int64_t>(k);
    loader.start_epoch(0, order);
    loader.next();  // warm-up
    const auto start = std::chrono::steady_clock::now();
    int64_t n = 0;
    while (const data::SampleBatch* b = loader.next()) n += b->size;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rows.push_back({{"workers", w}, {"images", n}, {"seconds", seconds}, {"images_per_s", n / seconds}});
  }
  return {{"path", path}, {"split", split}, {"transform", eval ? "eval" : "train"}, {"image_size", image_size},
          {"scaled_decode", scaled_decode}, {"batch_size", batch_size}, {"results", rows}};
}

// All-reduce bandwidth of the communicator over the processes the launcher started, as
// nccl-tests reports it: per message size, the time of one in-place sum (the slowest rank's
// mean over `repeats` back-to-back calls after `warmup`), the algorithm bandwidth bytes / time and
// the bus bandwidth algbw * 2 (n - 1) / n, which a ring all-reduce moves over each link and so
// compares with the hardware's link speed at any n.
json bench_allreduce(dist::Communicator& comm, const std::vector<int64_t>& sizes, int warmup, int repeats) {
  json rows = json::array();
  const int n = comm.size();
  for (int64_t bytes : sizes) {
    FF_USER_CHECK(bytes >= 4 && bytes % 4 == 0, "--bytes {}: expected a multiple of 4 (f32 elements), at least 4",
                  bytes);
    Tensor t = Tensor::ones({bytes / 4}, DType::F32, comm.device());
    for (int i = 0; i < warmup; ++i) comm.all_reduce(t);
    synchronize(comm.device());
    comm.barrier();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < repeats; ++i) comm.all_reduce(t);
    synchronize(comm.device());
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
    const Tensor all = comm.all_gather(Tensor::full({1}, seconds, DType::F32, comm.device()));
    for (float s : all.to_vector<float>()) seconds = std::max(seconds, static_cast<double>(s));
    const double algbw = static_cast<double>(bytes) / seconds / 1e9;
    rows.push_back({{"bytes", bytes},
                    {"us", seconds * 1e6},
                    {"algbw_gb_s", algbw},
                    {"busbw_gb_s", algbw * 2.0 * (n - 1) / n}});
  }
  return {{"backend", comm.backend()}, {"world_size", n}, {"device", comm.device().str()},
          {"warmup", warmup}, {"repeats", repeats}, {"results", rows}};
}

void print_table(const json& rows) {
  std::printf("%-10s %-8s %-7s %-26s %-6s %12s %14s %14s\n", "case", "kind", "device", "shape (B,H,Nq,Nk,D)",
              "causal", "fwd ms", "fwd+bwd ms", "peak extra MB");
  for (const json& r : rows) {
    auto s = r["shape"];
    std::string shape = fmt::format("{}x{}x{}x{}x{}", s[0].get<int64_t>(), s[1].get<int64_t>(), s[2].get<int64_t>(),
                                    s[3].get<int64_t>(), s[4].get<int64_t>());
    std::printf("%-10s %-8s %-7s %-26s %-6s %12.2f %14.2f %14.1f\n", r["name"].get<std::string>().c_str(),
                r["kind"].get<std::string>().c_str(), r["device"].get<std::string>().c_str(), shape.c_str(),
                r["causal"].get<bool>() ? "yes" : "no", r["forward_ms"].get<double>(),
                r["forward_backward_ms"].get<double>(), r["peak_extra_bytes"].get<double>() / 1e6);
  }
}

}  // namespace

int main(int argc, char** argv) {
  ff::apps::cli::use_passive_omp_wait(argv);
  CLI::App app("Benchmarks FourierFormer's kernels and training.", "fourierformer-bench");
  app.require_subcommand(1);
  app.fallthrough();  // --json, --device, ... also after the subcommand
  std::string json_path, device_name = "cpu", precision = "fp32";
  int warmup = 2, repeats = 5, threads = 0;
  app.add_option("--json", json_path, "Also write the results as JSON to this file")->check(apps::cli::output_file());
  app.add_option("--device", device_name, "cpu, cuda or cuda:N")->check(apps::cli::device_name());
  app.add_option("--warmup", warmup, "Untimed runs first")->check(apps::cli::whole_number(0, 1000));
  auto* repeats_opt = app.add_option("--repeats", repeats, "Timed runs of attention (the median is reported)")
                          ->check(apps::cli::whole_number(1, 1000));
  app.add_option("--threads", threads, "CPU threads (default: OpenMP's default)")
      ->check(apps::cli::whole_number(0, 1024));
  auto* precision_opt =
      app.add_option("--precision", precision,
                     "fp32 or bf16: attention on bf16 inputs; train with train.precision (default: the config's)")
          ->check(apps::cli::one_of({"fp32", "bf16"}));
  apps::cli::add_version_flag(app);

  auto* attn = app.add_subcommand("attention", "Fused attention forward and forward+backward");
  std::string kind = "fourier", shape_text = "48,8,256,256,16", shapes;
  bool causal = false;
  auto* kind_opt = attn->add_option("--kind", kind, "softmax, fourier, fourier_rf, rfa or flt")
                      ->check(apps::cli::one_of({"softmax", "fourier", "fourier_rf", "rfa", "flt"}));
  int64_t features = 0, position_features = 16;
  attn->add_option("--features", features,
                   "fourier_rf, rfa: random frequencies (default 256); flt: positive random features (default 32)")
      ->check(apps::cli::whole_number(1, 65536));
  attn->add_option("--position-features", position_features, "flt: frequencies of the mask (default 16)")
      ->check(apps::cli::whole_number(1, 65536));
  auto* shape_opt = attn->add_option("--shape", shape_text, "B,H,Nq,Nk,D")
                        ->check(apps::cli::whole_numbers(5, 1, "B,H,Nq,Nk,D"));
  auto* causal_opt = attn->add_flag("--causal", causal, "Causal mask");
  // The paper's cases set kind, shape and mask themselves.
  attn->add_option("--shapes", shapes, "'paper': the paper's LM-small, LM-medium and DeiT-tiny shapes, both kinds")
      ->check(apps::cli::one_of({"paper"}))
      ->excludes(kind_opt)
      ->excludes(shape_opt)
      ->excludes(causal_opt);

  auto* train_cmd = app.add_subcommand("train", "Training throughput of a config (the trainer's step)");
  std::string train_config;
  std::vector<std::string> train_overrides;
  int train_steps = 10;
  train_cmd->add_option("-c,--config", train_config, "Experiment config (YAML)")->required();
  train_cmd->add_option("--set", train_overrides, "Override a config key (repeatable)");
  train_cmd->add_option("--steps", train_steps, "Timed optimizer steps")->check(apps::cli::whole_number(1, 100000));

  auto* data_cmd = app.add_subcommand("data", "Decode + augment throughput on an ImageFolder, per loader thread count");
  std::string data_path, data_split = "train", workers_text = "1,2";
  int64_t data_images = 512, data_batch = 64, image_size = 224;
  bool data_eval = false, full_decode = false;
  data_cmd->add_option("--path", data_path, "ImageFolder root (train/<class>/*.JPEG ...)")->required();
  data_cmd->add_option("--split", data_split, "The split's folder (default train)");
  data_cmd->add_option("--workers", workers_text, "Loader thread counts to time, e.g. 1,2,4 (default 1,2)")
      ->check(apps::cli::whole_numbers(0, 0, "N,N,..."));
  data_cmd->add_option("--images", data_images, "Timed images per thread count (default 512)")
      ->check(apps::cli::whole_number(1, 10000000));
  data_cmd->add_option("--batch-size", data_batch, "Images per batch (default 64)")->check(apps::cli::whole_number(1, 100000));
  data_cmd->add_option("--image-size", image_size, "Output side (default 224)")->check(apps::cli::whole_number(1, 4096));
  data_cmd->add_flag("--eval", data_eval, "DeiT's eval transform (resize 256, centre crop) instead of the train one");
  data_cmd->add_flag("--full-decode", full_decode, "Decode every JPEG at full size (no DCT scaling)");

  auto* allreduce_cmd =
      app.add_subcommand("allreduce", "All-reduce bandwidth over the processes mpirun or srun started");
  std::string bytes_text = "1048576,16777216,67108864", backend = "auto";
  allreduce_cmd->add_option("--bytes", bytes_text, "Message sizes in bytes, e.g. 1048576,67108864 (default 1, 16, 64 MiB)")
      ->check(apps::cli::whole_numbers(0, 4, "N,N,..."));
  allreduce_cmd->add_option("--backend", backend, "mpi, nccl or local (default: nccl on cuda, mpi on cpu)")
      ->check(apps::cli::one_of({"auto", "local", "mpi", "nccl"}));

  if (int code = apps::cli::parse(app, argc, argv); code >= 0) return code;

  try {
    FF_USER_CHECK(!(train_cmd->parsed() && repeats_opt->count() > 0),
                  "--repeats applies to the attention benchmark; train times --steps steps");
    if (threads > 0) omp_set_num_threads(threads);
    if (allreduce_cmd->parsed()) {
      const dist::LaunchInfo launch = dist::launch_info();
      Device device = parse_device(device_name);
      FF_USER_CHECK(device.is_cpu() || kernels::cuda_device_count() > 0, "--device {}: no GPU ({})", device_name,
                    kernels::cuda_unavailable_reason());
      if (device.is_cuda()) device = Device::cuda(dist::local_gpu(launch, kernels::cuda_device_count()));
      if (backend == "auto") backend = launch.world_size == 1 ? "local" : device.is_cuda() ? "nccl" : "mpi";
      int code = 0;
      {
        dist::CommOptions options;
        options.backend = backend;
        options.launch = launch;
        options.device = device;
        if (const char* rendezvous = std::getenv("FF_RENDEZVOUS")) options.rendezvous = rendezvous;
        std::unique_ptr<dist::Communicator> comm = dist::make_communicator(options);
        try {
          const json r = bench_allreduce(*comm, apps::cli::parse_whole_numbers(bytes_text).value(), warmup,
                                         repeats_opt->count() > 0 ? repeats : 20);
          if (comm->rank() == 0) {
            std::printf("all-reduce (sum, f32), %s backend, %d process(es) on %s:\n", backend.c_str(), comm->size(),
                        device.is_cuda() ? "GPUs" : "CPUs");
            std::printf("%14s %12s %14s %14s\n", "bytes", "time us", "algbw GB/s", "busbw GB/s");
            for (const json& row : r["results"])
              std::printf("%14lld %12.1f %14.3f %14.3f\n", static_cast<long long>(row["bytes"].get<int64_t>()),
                          row["us"].get<double>(), row["algbw_gb_s"].get<double>(), row["busbw_gb_s"].get<double>());
            json report = {{"benchmark", "allreduce"}, {"version", train::version_string()}, {"results", json::array({r})}};
            if (!json_path.empty()) {
              std::ofstream out(json_path);
              FF_USER_CHECK(out.good(), "--json {}: cannot write", json_path);
              out << report.dump(2) << "\n";
            }
          }
        } catch (const std::exception& e) {
          std::fprintf(stderr, "fourierformer-bench: error: %s: %s\n", dist::describe(launch).c_str(), e.what());
          std::fflush(stderr);
          if (launch.world_size > 1) dist::abort_job(dynamic_cast<const UserError*>(&e) ? 2 : 1);
          code = dynamic_cast<const UserError*>(&e) ? 2 : 1;
        }
      }
      dist::finalize();
      return code;
    }
    if (data_cmd->parsed()) {
      const std::vector<int64_t> workers = apps::cli::parse_whole_numbers(workers_text).value();
      json r = bench_data(data_path, data_split, data_eval, image_size, workers, data_images, data_batch, !full_decode);
      std::printf("%s/%s, %s transform to %lld px%s:\n", data_path.c_str(), data_split.c_str(),
                  data_eval ? "eval" : "train", static_cast<long long>(image_size),
                  full_decode ? ", full-size decode" : "");
      for (const json& row : r["results"])
        std::printf("  %2lld workers: %8.1f images/s\n", static_cast<long long>(row["workers"].get<int64_t>()),
                    row["images_per_s"].get<double>());
      json report = {{"benchmark", "data"}, {"version", train::version_string()}, {"results", json::array({r})}};
      if (!json_path.empty()) {
        std::ofstream out(json_path);
        FF_USER_CHECK(out.good(), "--json {}: cannot write", json_path);
        out << report.dump(2) << "\n";
      }
      return 0;
    }
    if (train_cmd->parsed()) {
      spdlog::set_level(spdlog::level::warn);
      if (precision_opt->count() > 0) train_overrides.push_back("train.precision=" + precision);
      json r = bench_train(train_config, train_overrides, app.get_option("--device")->count() ? device_name : "",
                           warmup, train_steps);
      std::printf("%s on %s (%s): %.1f %s/s (%.1f ms/step, %.0f %s/step, peak extra %.1f MB, %d threads)\n",
                  train_config.c_str(), r["device"].get<std::string>().c_str(),
                  r["precision"].get<std::string>().c_str(), r["units_per_s"].get<double>(),
                  r["units"].get<std::string>().c_str(), r["step_ms"].get<double>(), r["units_per_step"].get<double>(),
                  r["units"].get<std::string>().c_str(), r["peak_extra_bytes"].get<double>() / 1e6,
                  omp_get_max_threads());
      std::printf("model FLOPs: %.2f GFLOP/step, %.1f GFLOP/s = %.1f%% of an fp32 SGEMM's %.1f GFLOP/s measured now\n",
                  r["model_gflop_per_step"].get<double>(), r["model_gflops"].get<double>(),
                  100.0 * r["sgemm_fraction"].get<double>(), r["sgemm_gflops"].get<double>());
      json report = {{"benchmark", "train"}, {"version", train::version_string()}, {"threads", omp_get_max_threads()},
                     {"results", json::array({r})}};
      if (!json_path.empty()) {
        std::ofstream out(json_path);
        FF_USER_CHECK(out.good(), "--json {}: cannot write", json_path);
        out << report.dump(2) << "\n";
      }
      return 0;
    }
    Device device = parse_device(device_name);
    FF_USER_CHECK(device.is_cpu() || kernels::cuda_device_count() > device.index, "--device {}: no such GPU ({})",
                  device_name, kernels::cuda_unavailable_reason());
    json rows = json::array();
    std::vector<AttentionCase> cases;
    if (shapes == "paper") {
      cases = paper_cases();
    } else {
      const std::vector<int64_t> d = apps::cli::parse_whole_numbers(shape_text).value();  // checked by --shape
      const int64_t m = features > 0 ? features : models::default_features(kind);
      cases.push_back({"custom", kind, d[0], d[1], d[2], d[3], d[4], causal, m, position_features});
    }
    const DType dtype = precision == "bf16" ? DType::BF16 : DType::F32;
    for (const auto& c : cases) rows.push_back(bench_attention(c, device, dtype, warmup, repeats));
    print_table(rows);
    json report = {{"benchmark", "attention"}, {"version", train::version_string()}, {"threads", omp_get_max_threads()},
                   {"cuda", kernels::cuda_device_count() > 0 ? "available" : kernels::cuda_unavailable_reason()},
                   {"results", rows}};
    if (!json_path.empty()) {
      std::ofstream out(json_path);
      FF_USER_CHECK(out.good(), "--json {}: cannot write", json_path);
      out << report.dump(2) << "\n";
    }
  } catch (const UserError& e) {
    std::fprintf(stderr, "fourierformer-bench: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
