// Data parallelism on the CPU: the trainer under mpirun (Open MPI), as a user starts it, through
// ff_dist_worker (tests/workers/dist_worker.cpp: fourierformer-train plus a per-step dump of
// every rank's parameters and communicator counters). Each run is a few seconds on two cores.
// Skipped (FF_SKIP) in a build without Open MPI.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "dist_support.h"

namespace fs = std::filesystem;
using namespace ff::testing::dist;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("ff-dist-apps-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Deterministic English-like text in the WikiText layout, as tests/apps/lm_apps_test.cpp writes it.
fs::path make_corpus() {
  const fs::path dir = fresh_dir("corpus");
  const std::vector<std::string> words = {"the cat", "a dog", "saw", "found", "the red ball", "a small house",
                                          "the river", "near the town", "at night", "liked", "an apple", "."};
  uint64_t s = 1;
  auto text = [&](int lines) {
    std::ostringstream out;
    for (int i = 0; i < lines; ++i) {
      for (int k = 0; k < 6; ++k) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        out << words[(s >> 33) % words.size()] << " ";
      }
      out << ".\n";
    }
    return out.str();
  };
  // 40 more types, so the vocabulary passes the tiny config's adaptive-softmax cutoffs (10, 20).
  std::ostringstream rare;
  for (int i = 0; i < 40; ++i) rare << "w" << i << (i % 10 == 9 ? "\n" : " ");
  std::ofstream(dir / "train.txt") << text(600) << rare.str();
  std::ofstream(dir / "valid.txt") << text(60);
  std::ofstream(dir / "test.txt") << text(60);
  return dir;
}

// The tiny LM without dropout (ranks draw different masks), with SGD + momentum (Adam's first
// steps are sign-like and would blow reduction-order differences of near-zero gradients up to lr).
// 6 training columns (2 or 3 per rank); 5 evaluation columns, which no world size here divides.
std::string lm_args(const fs::path& corpus, const fs::path& work_dir, int steps, const std::string& extra = "") {
  return fmt::format(
      "--config configs/tests/lm-tiny-softmax.yaml --work-dir '{}' --no-progress --set data.path='{}' "
      "--set model.dropout=0 --set data.batch_size=6 --set eval.batch_size=5 --set train.max_steps={} "
      "--set train.optimizer.name=sgd --set train.optimizer.lr=0.2 --set train.optimizer.momentum=0.9 "
      "--set train.scheduler.name=constant --set train.scheduler.warmup=0 --set train.eval_interval=1000 --set train.eval_max_batches=2 "
      "--set train.checkpoint.interval=2 --set train.checkpoint.keep_last=10 {}",
      work_dir.string(), corpus.string(), steps, extra);
}

// The last evaluation record of a run's metrics.jsonl (rank 0 writes it).
nlohmann::json last_eval(const fs::path& work_dir) {
  nlohmann::json last;
  std::ifstream in(work_dir / "metrics.jsonl");
  for (std::string line; std::getline(in, line);)
    if (auto j = nlohmann::json::parse(line); j["type"] == "eval") last = j;
  REQUIRE(last.is_object());
  return last;
}

// A probe run (task: probe, tests/workers/dist_worker.cpp): 12 examples per global batch.
std::string probe_args(const fs::path& work_dir, int steps, const std::string& extra = "") {
  const fs::path config = work_dir.parent_path() / (work_dir.filename().string() + ".yaml");
  std::ofstream(config) << "task: probe\nseed: 3\ndevice: cpu\nthreads: 1\n"
                           "data:\n  batch_size: 12\n"
                           "train:\n  max_steps: " << steps
                        << "\n  log_interval: 1\n  eval_interval: 1000\n"
                           "  optimizer:\n    name: sgd\n    lr: 0.1\n  scheduler:\n    name: constant\n"
                           "  checkpoint:\n    interval: 0\n";
  return fmt::format("--config '{}' --work-dir '{}' --no-progress {}", config.string(), work_dir.string(), extra);
}


}  // namespace

TEST_CASE("data parallel: 2 and 3 ranks train the tiny LM to the parameters of one process on the global batch",
          "[dist][mpi]") {
  FF_REQUIRE_MPI();
  const fs::path corpus = make_corpus();
  const fs::path root = fresh_dir("equal");
  const int steps = 3;
  Result one = launch(0, root / "d1", lm_args(corpus, root / "w1", steps));
  INFO(one.output);
  REQUIRE(one.code == 0);
  const std::vector<nlohmann::json> base = records(root / "d1", 0);
  REQUIRE(base.size() == steps);
  // Training moved the weights: equality below is not that of untouched initialisations.
  REQUIRE(max_difference(params(root / "d1", 0, 1), params(root / "d1", 0, steps)) > 1e-3);

  for (int world : {2, 3}) {
    INFO("world size " << world);
    const fs::path dump = root / fmt::format("d{}", world);
    Result r = launch(world, dump, lm_args(corpus, root / fmt::format("w{}", world), steps));
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(r.output.find(fmt::format("world size {} (mpi backend, mpirun)", world)) != std::string::npos);
    std::vector<std::vector<nlohmann::json>> ranks;
    for (int rank = 0; rank < world; ++rank) ranks.push_back(records(dump, rank));
    for (int step = 1; step <= steps; ++step) {
      INFO("step " << step);
      const nlohmann::json& b = base[step - 1];
      const std::vector<float> p0 = params(dump, 0, step);
      for (int rank = 0; rank < world; ++rank) {
        const nlohmann::json& rec = ranks[rank].at(step - 1);
        // Every rank holds the same parameters, bit for bit, and logs the global batch's loss.
        CHECK(rec["params_xxh3"] == ranks[0][step - 1]["params_xxh3"]);
        CHECK(params(dump, rank, step) == p0);
        CHECK(rec["loss"].get<double>() == Approx(b["loss"].get<double>()).epsilon(kTolerance));
        CHECK(rec["grad_norm"].get<double>() == Approx(b["grad_norm"].get<double>()).epsilon(kTolerance));
        CHECK(rec["units"].get<double>() == 6 * 12);  // the global batch: 6 columns x 12 tokens
      }
      CHECK(max_difference(p0, params(root / "d1", 0, step)) < kTolerance);
    }
    // The final evaluation: eval.batch_size 5 columns shared unevenly, the sums those of one process.
    const nlohmann::json e1 = last_eval(root / "w1"), e = last_eval(root / fmt::format("w{}", world));
    CHECK(e["units"] == e1["units"]);
    CHECK(e["loss"].get<double>() == Approx(e1["loss"].get<double>()).epsilon(kTolerance));
  }
}

TEST_CASE("data parallel: with gradient accumulation there is one all-reduce per bucket per optimizer step",
          "[dist][mpi]") {
  FF_REQUIRE_MPI();
  const fs::path corpus = make_corpus();
  const fs::path root = fresh_dir("accum");
  // 2 KiB buckets split the tiny LM's parameters into several.
  const std::string extra = "--set train.grad_accum=3 --set train.distributed.bucket_mb=0.002";
  Result one = launch(0, root / "d1", lm_args(corpus, root / "w1", 2, extra));
  INFO(one.output);
  REQUIRE(one.code == 0);
  Result r = launch(2, root / "d2", lm_args(corpus, root / "w2", 2, extra));
  INFO(r.output);
  REQUIRE(r.code == 0);
  for (int rank = 0; rank < 2; ++rank) {
    const std::vector<nlohmann::json> recs = records(root / "d2", rank);
    REQUIRE(recs.size() == 2);
    const int64_t buckets = recs[0]["buckets"].get<int64_t>();
    CHECK(buckets >= 4);
    // Step 1 is the first reduction of the run; each step adds exactly its buckets (not 3x).
    CHECK(recs[0]["all_reduce"].get<int64_t>() == buckets);
    CHECK(recs[1]["all_reduce"].get<int64_t>() == 2 * buckets);
    // One host-side agreement per step (unused parameters, stop requests).
    CHECK(recs[1]["any"].get<int64_t>() - recs[0]["any"].get<int64_t>() == 1);
  }
  CHECK(r.output.find("gradient bucket(s)") != std::string::npos);
  // Accumulating without synchronisation still gives one process's step.
  for (int step = 1; step <= 2; ++step) CHECK(max_difference(params(root / "d2", 0, step), params(root / "d1", 0, step)) < kTolerance);
}

TEST_CASE("data parallel: a parameter that no rank or only some ranks use does not hang", "[dist][mpi]") {
  FF_REQUIRE_MPI();
  const fs::path root = fresh_dir("unused");
  double seconds = 0;
  Result r = launch(2, root / "d", probe_args(root / "w", 3, "--set train.distributed.timeout_s=20"), &seconds);
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(seconds < 20);
  const std::vector<nlohmann::json> rank0 = records(root / "d", 0), rank1 = records(root / "d", 1);
  REQUIRE(rank0.size() == 3);
  REQUIRE(rank1.size() == 3);
  for (int step = 1; step <= 3; ++step) {
    const std::vector<float> p = params(root / "d", 0, step);
    CHECK(params(root / "d", 1, step) == p);
    // Used by no rank: no gradient, so SGD leaves it; used by rank 1 only: it moves on both.
    CHECK(param(rank0[step - 1], p, "unused") == std::vector<float>(5, 1.0f));
    for (float v : param(rank0[step - 1], p, "odd_ranks")) CHECK(v != 0.0f);
  }
}

TEST_CASE("data parallel: a checkpoint written by 2 ranks resumes on 1 rank and the reverse", "[dist][mpi]") {
  FF_REQUIRE_MPI();
  const fs::path corpus = make_corpus();
  const fs::path root = fresh_dir("resume");
  // Uninterrupted runs of 4 steps, checkpoints at 2 and 4, on 2 ranks and on one.
  REQUIRE(launch(2, root / "d2", lm_args(corpus, root / "w2", 4)).code == 0);
  REQUIRE(launch(0, root / "d1", lm_args(corpus, root / "w1", 4)).code == 0);
  const fs::path from2 = root / "w2" / "checkpoints" / "step-000002";
  const fs::path from1 = root / "w1" / "checkpoints" / "step-000002";
  CHECK(nlohmann::json::parse(std::ifstream(from2 / "trainer.json"))["world_size"] == 2);
  CHECK(nlohmann::json::parse(std::ifstream(from1 / "trainer.json"))["world_size"] == 1);

  // Steps 3 and 4 again: 2 -> 1 and 1 -> 2.
  Result down = launch(0, root / "d21", lm_args(corpus, root / "w21", 4, "--resume '" + from2.string() + "'"));
  INFO(down.output);
  REQUIRE(down.code == 0);
  CHECK(down.output.find("the checkpoint was written by 2 process(es), this run has 1") != std::string::npos);
  Result up = launch(2, root / "d12", lm_args(corpus, root / "w12", 4, "--resume '" + from1.string() + "'"));
  INFO(up.output);
  REQUIRE(up.code == 0);
  REQUIRE(records(root / "d21", 0).size() == 2);
  REQUIRE(records(root / "d12", 1).size() == 2);
  for (int step = 3; step <= 4; ++step) {
    INFO("step " << step);
    CHECK(max_difference(params(root / "d21", 0, step), params(root / "d2", 0, step)) < kTolerance);
    CHECK(max_difference(params(root / "d12", 0, step), params(root / "d1", 0, step)) < kTolerance);
    CHECK(params(root / "d12", 1, step) == params(root / "d12", 0, step));
  }
}

TEST_CASE("data parallel: a rank that throws or hangs stops the job within a bounded time, naming the rank",
          "[dist][mpi]") {
  FF_REQUIRE_MPI();
  const fs::path root = fresh_dir("fail");
  struct Case {
    std::string name, options;
    std::vector<std::string> messages;
  };
  const std::vector<Case> cases = {
      {"throws", "--set model.fail_rank=1 --set model.fail_at=3 --set train.distributed.timeout_s=30",
       {"fourierformer-train: error: rank 1 of 2 (mpirun): probe data: batch 3 is corrupt"}},
      // Rank 1 stops answering in its second step; rank 0's collective gives up after 2 s.
      {"hangs", "--set model.hang_rank=1 --set model.hang_at=2 --set train.distributed.timeout_s=2",
       {"rank 0 of 2 (mpirun): MPI", "did not complete within 2 s"}},
  };
  for (const Case& c : cases) {
    INFO("rank 1 " << c.name);
    double seconds = 0;
    Result r = launch(2, root / ("d-" + c.name), probe_args(root / ("w-" + c.name), 5, c.options), &seconds);
    INFO(r.output);
    CHECK(r.code != 0);
    CHECK(seconds < 25);
    for (const std::string& m : c.messages) CHECK(r.output.find(m) != std::string::npos);
  }
}

TEST_CASE("data parallel: a stop signal on one rank stops every rank after a checkpoint", "[dist][mpi]") {
  FF_REQUIRE_MPI();
  const fs::path root = fresh_dir("signal");
  Result r = launch(2, root / "d", probe_args(root / "w", 6, "--set model.signal_rank=1 --set model.signal_at=2"));
  INFO(r.output);
  CHECK(r.code == 3);
  // Both ranks finished step 2 and stopped there; rank 0 saved it.
  CHECK(records(root / "d", 0).size() == 2);
  CHECK(records(root / "d", 1).size() == 2);
  CHECK(fs::exists(root / "w" / "checkpoints" / "step-000002" / "checksums.json"));
  // Rank 0 logs why it stopped: the signal went to rank 1.
  CHECK(r.output.find("a stop signal on another rank: saved") != std::string::npos);
}

TEST_CASE("data parallel: a global batch that does not divide by the world size is refused", "[dist][mpi]") {
  FF_REQUIRE_MPI();
  const fs::path corpus = make_corpus();
  const fs::path root = fresh_dir("indivisible");
  Result r = launch(2, root / "d", lm_args(corpus, root / "w", 2, "--set data.batch_size=5"));
  INFO(r.output);
  CHECK(r.code == 2);
  CHECK(r.output.find("data.batch_size 5 (the global batch) is not divisible by the world size 2") !=
        std::string::npos);
}

TEST_CASE("data parallel: fourierformer-bench allreduce reports the bandwidth of 2 CPU ranks", "[dist][mpi]") {
  FF_REQUIRE_MPI();
  const fs::path root = fresh_dir("bench");
  const std::string bench = fmt::format("OMP_NUM_THREADS=1 {} --allow-run-as-root --oversubscribe --bind-to none -np 2 "
                                        "{}/apps/fourierformer-bench",
                                        ff::testing::dist::mpiexec(), ff::testing::binary_dir());
  Result r = ff::testing::run_command(bench + " --json '" + (root / "a.json").string() +
                         "' allreduce --bytes 4096,65536 --warmup 1 --repeats 3");
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("all-reduce (sum, f32), mpi backend, 2 process(es) on CPUs") != std::string::npos);
  const nlohmann::json report = nlohmann::json::parse(std::ifstream(root / "a.json"));
  const nlohmann::json& run = report.at("results").at(0);
  CHECK(run["backend"] == "mpi");
  CHECK(run["world_size"] == 2);
  REQUIRE(run["results"].size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const nlohmann::json& row = run["results"][i];
    CHECK(row["bytes"] == (i == 0 ? 4096 : 65536));
    CHECK(row["us"].get<double>() > 0);
    // Two ranks: a ring moves 2 (n - 1) / n = 1 times the message over each link.
    CHECK(row["busbw_gb_s"].get<double>() == Approx(row["algbw_gb_s"].get<double>()));
    CHECK(row["algbw_gb_s"].get<double>() == Approx(row["bytes"].get<double>() / row["us"].get<double>() / 1e3));
  }
  Result odd = ff::testing::run_command(bench + " allreduce --bytes 4098");
  CHECK(odd.code == 2);
  CHECK(odd.output.find("--bytes 4098: expected a multiple of 4") != std::string::npos);
}

TEST_CASE("data parallel: CPU ranks whose MPI world is not the launcher's are refused, naming both", "[dist][mpi]") {
  FF_REQUIRE_MPI();
  const fs::path corpus = make_corpus();
  const fs::path root = fresh_dir("mismatch");
  // FF_RANK says 2 processes, but nothing started an MPI job: MPI sees one.
  Result r = launch(0, root / "d", lm_args(corpus, root / "w", 2), nullptr, "FF_RANK=1 FF_WORLD_SIZE=2 ");
  INFO(r.output);
  CHECK(r.code == 2);
  CHECK(r.output.find("rank 1 of 2 (FF_RANK): MPI sees rank 0 of 1 but the launcher says rank 1 of 2 (FF_RANK)") !=
        std::string::npos);
}
