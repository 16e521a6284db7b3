// fourierformer-train / fourierformer-eval on the language model, run as the user runs them
// (the binaries under the build tree's apps/, support/paths.h) on corpora the tests write.

#include <fmt/format.h>
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/train/checkpoint.h"
#include "support/command.h"
#include "support/paths.h"
#include "kernels/device_query.h"

namespace fs = std::filesystem;

namespace {

using Result = ff::testing::CommandResult;

// Runs a command line from the source tree (the configs' relative paths), stdout and stderr together.
Result run(const std::string& args) { return ff::testing::run_command(std::string("cd '") + ff::testing::source_dir() + "' && " + args); }

std::string app(const std::string& name) { return std::string(ff::testing::binary_dir()) + "/apps/" + name; }

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("ff-lm-apps-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Deterministic English-like text: sentences from a small grammar, one per line.
std::string sentences(int n, uint64_t seed) {
  const std::vector<std::string> subjects = {"the cat", "a dog", "the old man", "my sister", "the farmer", "a child"};
  const std::vector<std::string> verbs = {"saw", "found", "liked", "carried", "painted", "followed"};
  const std::vector<std::string> objects = {"the red ball", "a small house", "the river", "an apple", "the long road",
                                            "the door"};
  const std::vector<std::string> endings = {".", "in the morning .", "at night .", "near the town ."};
  std::ostringstream out;
  uint64_t s = seed;
  auto pick = [&](const std::vector<std::string>& v) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return v[(s >> 33) % v.size()];
  };
  for (int i = 0; i < n; ++i) out << pick(subjects) << " " << pick(verbs) << " " << pick(objects) << " " << pick(endings) << "\n";
  return out.str();
}

void write(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A WikiText-layout corpus; `extra_types` distinct rare words appended to train (so the
// vocabulary can exceed the paper's adaptive-softmax cutoffs).
fs::path make_corpus(const std::string& name, int64_t extra_types = 0) {
  const fs::path dir = fresh_dir(name);
  std::string train = sentences(3000, 1);
  std::ostringstream rare;
  for (int64_t i = 0; i < extra_types; ++i) rare << "w" << i << ((i % 20 == 19) ? "\n" : " ");
  write(dir / "train.txt", train + rare.str() + "\n");
  write(dir / "valid.txt", sentences(300, 2));
  write(dir / "test.txt", sentences(300, 3));
  return dir;
}

std::vector<nlohmann::json> train_records(const fs::path& work_dir) {
  std::vector<nlohmann::json> out;
  std::ifstream in(work_dir / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == "train") out.push_back(j);
  }
  return out;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A split's token count, for the ASCII text the tests write: its words plus one <eos> per line
// (a last line without '\n' counts too).
int64_t tokens_with_eos(const std::string& text) {
  int64_t tokens = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    for (std::string w; words >> w;) ++tokens;
    ++tokens;
  }
  return tokens;
}

}  // namespace

TEST_CASE("apps: train and evaluate the tiny LM, text and JSON results", "[apps][lm]") {
  const fs::path corpus = make_corpus("tiny-corpus");
  // 40 steps at lr 3e-2 take about a second and bring the test perplexity to about 11 on this
  // grammar, whose unigram perplexity is 23.9 and bigram perplexity 2.6 (the config's own 10
  // steps at lr 3e-3 only get from 33 to 30).
  const std::string train = app("fourierformer-train") + " --config configs/tests/lm-tiny-fourier.yaml --no-progress" +
                            " --set data.path=" + corpus.string();
  const fs::path work = fresh_dir("tiny-run");
  Result t = run(train + " --set train.max_steps=40 --set train.optimizer.lr=3e-2 --work-dir " + work.string());
  INFO(t.output);
  REQUIRE(t.code == 0);
  CHECK(fs::exists(work / "checkpoints" / "latest"));
  const auto records = train_records(work);
  REQUIRE(records.size() == 40);
  CHECK(records[0].contains("R.0"));
  CHECK(records[0].contains("R.1"));
  CHECK(records[0]["ppl"].get<double>() == Approx(std::exp(records[0]["loss"].get<double>())).epsilon(1e-12));

  // The same model untrained: its one step runs at the warmup's first lr, warmup_lr = 0
  // (core/optim/scheduler.h), so the checkpoint holds the initial weights.
  const fs::path untrained = fresh_dir("tiny-untrained");
  Result u = run(train + " --set train.max_steps=1 --set train.scheduler.warmup_lr=0 --work-dir " + untrained.string());
  INFO(u.output);
  REQUIRE(u.code == 0);

  auto evaluate = [&](const fs::path& run_dir, const std::string& flags) {
    const fs::path json = run_dir / "eval.json";
    Result e = run(app("fourierformer-eval") + " --checkpoint " + run_dir.string() + " " + flags + " --json " +
                   json.string());
    INFO(e.output);
    REQUIRE(e.code == 0);
    CHECK(e.output.find("test: loss") != std::string::npos);
    return nlohmann::json::parse(read_bytes(json))["splits"];
  };
  const auto splits = evaluate(work, "--split valid,test");
  const double ppl = splits["test"]["ppl"].get<double>();
  CHECK(ppl == Approx(std::exp(splits["test"]["loss"].get<double>())).epsilon(1e-12));
  const double untrained_ppl = evaluate(untrained, "--split test")["test"]["ppl"].get<double>();
  // Near-uniform over the 34 types at initialisation; a trained model below half of that is
  // below the unigram perplexity (23.9), so it predicts from the context. A model that is not
  // trained, or whose weights are not loaded, stays near 34.
  CHECK(untrained_ppl > 30.0);
  CHECK(ppl < 0.5 * untrained_ppl);

  // Tokens of each split as docs/data.md counts them (whitespace-separated words, plus <eos>
  // for every line); the non-overlapping evaluation cuts a split of N into 2 columns
  // (eval.batch_size) of C = N / 2 tokens and scores targets 1..C-1 of each column.
  for (const std::string split : {"valid", "test"}) {
    const int64_t n = tokens_with_eos(read_bytes(corpus / (split + ".txt")));
    INFO(split << ": " << n << " tokens");
    CHECK(splits[split]["units"].get<int64_t>() == 2 * (n / 2 - 1));
  }

  const auto sliding = evaluate(work, "--sliding-window --head-diversity --segments 3");
  const auto& test = sliding["test"];
  CHECK(test["head_div_mean"].get<double>() > 0.0);
  CHECK(test["head_div_segments"].get<double>() == 3.0);
  // The sliding window scores every target of the split exactly once: N - 1 of them.
  CHECK(test["units"].get<int64_t>() == tokens_with_eos(read_bytes(corpus / "test.txt")) - 1);
  CHECK(test["ppl"].get<double>() < ppl * 1.5);
}

TEST_CASE("apps: fourierformer-eval refuses a changed checkpoint (exit 2) and a non-finite loss (exit 4)",
          "[apps][lm][checkpoint]") {
  const fs::path corpus = make_corpus("eval-refuses-corpus");
  const fs::path work = fresh_dir("eval-refuses-run");
  Result t = run(app("fourierformer-train") + " --config configs/tests/lm-tiny-softmax.yaml --no-progress" +
                 " --set data.path=" + corpus.string() + " --set train.max_steps=2 --set train.eval_interval=0" +
                 " --work-dir " + work.string());
  INFO(t.output);
  REQUIRE(t.code == 0);
  const fs::path ckpt = work / "checkpoints" / "step-000002";
  REQUIRE(fs::exists(ckpt / "checksums.json"));

  // One byte of tensor data in a copy: the safetensors header stays valid, only the checksum
  // can tell.
  const fs::path changed = fresh_dir("eval-refuses-changed") / "step-000002";
  fs::copy(ckpt, changed);
  const fs::path model = changed / "model.safetensors";
  std::string bytes = read_bytes(model);
  uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  bytes[8 + header + 3] ^= 0x01;
  write(model, bytes);
  Result e = run(app("fourierformer-eval") + " --checkpoint " + changed.string());
  INFO(e.output);
  CHECK(e.code == 2);
  CHECK(e.output.find("fourierformer-eval: error: " + model.string() + ": checksum mismatch (expected xxh3_64 ") !=
        std::string::npos);
  CHECK(e.output.find("test: loss") == std::string::npos);

  // NaN weights with valid checksums, written through the library as the trainer writes them:
  // eval still prints the results, then fails naming each split.
  ff::train::LoadedCheckpoint loaded = ff::train::read_checkpoint(ckpt);
  ff::train::CheckpointData data{.model = ff::train::tensors_of(loaded.model),
                                 .optimizer = ff::train::tensors_of(loaded.optimizer),
                                 .trainer = loaded.trainer,
                                 .config_yaml = read_bytes(ckpt / "config.yaml")};
  bool found_bias = false;
  for (auto& [name, tensor] : data.model) {
    if (name != "crit.out_layers.0.bias") continue;
    found_bias = true;
    float* values = tensor.data<float>();
    for (int64_t i = 0; i < tensor.numel(); ++i) values[i] = std::nanf("");
  }
  REQUIRE(found_bias);
  const fs::path nan_dir = fresh_dir("eval-refuses-nan");
  ff::train::CheckpointManager(nan_dir, 1).save("step-000002", data);
  const fs::path json = nan_dir / "eval.json";
  Result n = run(app("fourierformer-eval") + " --checkpoint " + (nan_dir / "step-000002").string() +
                 " --split valid,test --json " + json.string());
  INFO(n.output);
  CHECK(n.code == 4);
  CHECK(n.output.find("valid: loss nan") != std::string::npos);
  CHECK(n.output.find("test: loss nan") != std::string::npos);
  CHECK(n.output.find("[error] non-finite result: split 'valid' has loss nan, split 'test' has loss nan") !=
        std::string::npos);
  const auto results = nlohmann::json::parse(read_bytes(json));
  CHECK(results["splits"]["test"]["loss"].is_null());  // JSON has no NaN
}

TEST_CASE("apps: the banner says where CUDA stands: built without it, no GPU, or the driver", "[apps][lm]") {
  const fs::path corpus = make_corpus("banner-corpus");
  const fs::path work = fresh_dir("banner-run");
  Result r = run(app("fourierformer-train") + " --config configs/tests/lm-tiny-softmax.yaml --no-progress --set data.path=" +
                 corpus.string() + " --set train.max_steps=1 --work-dir " + work.string());
  INFO(r.output);
  REQUIRE(r.code == 0);
  std::istringstream lines(r.output);
  std::string banner;
  for (std::string line; std::getline(lines, line);)
    if (line.find("] fourierformer-train ") != std::string::npos && line.find(" | world size ") != std::string::npos)
      banner = line;
  REQUIRE_FALSE(banner.empty());
#ifdef FF_WITH_CUDA
  // A CUDA build on a machine without a driver: cudaDriverGetVersion gives 0 and the runtime
  // reports "CUDA driver version is insufficient"; neither is news to print.
  CHECK(banner.find(" | CUDA runtime ") != std::string::npos);
  CHECK(banner.find("driver 0.0") == std::string::npos);
  if (ff::kernels::cuda_device_count() == 0) {
    CHECK(banner.find(", no GPU | cuDNN ") != std::string::npos);
  } else {
    CHECK(banner.find(", driver ") != std::string::npos);
    CHECK(banner.find("no GPU") == std::string::npos);
  }
  CHECK(banner.find("built without CUDA") == std::string::npos);
#else
  CHECK(banner.find(" | device cpu | built without CUDA | threads ") != std::string::npos);
  CHECK(banner.find("CUDA runtime") == std::string::npos);
#endif
  CHECK(r.output.find("insufficient") == std::string::npos);
}

TEST_CASE("apps: the apps wait passively in OpenMP unless the user chose a policy", "[apps][lm]") {
  const fs::path corpus = make_corpus("omp-wait-corpus");
  // ctest sets OMP_WAIT_POLICY for every test: clear it, and set it, for the app alone.
  for (const auto& [env, expected] : std::vector<std::pair<std::string, std::string>>{
           {"env -u OMP_WAIT_POLICY ", "(OpenMP wait PASSIVE)"}, {"env OMP_WAIT_POLICY=ACTIVE ", "(OpenMP wait ACTIVE)"}}) {
    const fs::path work = fresh_dir("omp-wait-run");
    Result r = run(env + app("fourierformer-train") + " --config configs/tests/lm-tiny-softmax.yaml --no-progress --set data.path=" +
                   corpus.string() + " --set train.max_steps=1 --work-dir " + work.string());
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(r.output.find(expected + " | world size 1") != std::string::npos);
  }
}

TEST_CASE("apps: LM resume is bit-exact (N steps + resume + N steps == 2N steps)", "[apps][lm]") {
  const fs::path corpus = make_corpus("resume-corpus");
  // fourier_rf, rfa and flt redrawing their frequencies every 3 steps: the resumed run (step 4,
  // period 1) draws what the uninterrupted one drew.
  for (const std::string attention :
       {"", " --set model.attention.kind=fourier_rf --set model.attention.features=8 --set model.attention.redraw_interval=3",
        " --set model.attention.kind=rfa --set model.attention.features=8 --set model.attention.redraw_interval=3",
        " --set model.attention.kind=flt --set model.attention.features=4 --set model.attention.position_features=4"
        " --set model.attention.redraw_interval=3"}) {
    INFO("attention:" << attention);
    const std::string common = app("fourierformer-train") + " --config configs/tests/lm-tiny-softmax.yaml --no-progress" +
                               " --set data.path=" + corpus.string() + attention +
                               " --set train.max_steps=8 --set train.checkpoint.interval=4 --set train.eval_interval=0";
    const fs::path straight = fresh_dir("straight"), resumed = fresh_dir("resumed");
    Result a = run(common + " --work-dir " + straight.string());
    INFO(a.output);
    REQUIRE(a.code == 0);
    Result b = run(common + " --work-dir " + resumed.string() + " --resume " +
                   (straight / "checkpoints" / "step-000004").string());
    INFO(b.output);
    REQUIRE(b.code == 0);
    const auto ra = train_records(straight), rb = train_records(resumed);
    REQUIRE(ra.size() == 8);
    REQUIRE(rb.size() == 4);
    for (size_t i = 0; i < 4; ++i) {
      CHECK(rb[i]["step"] == ra[i + 4]["step"]);
      CHECK(rb[i]["loss"].get<double>() == ra[i + 4]["loss"].get<double>());
      CHECK(rb[i]["grad_norm"].get<double>() == ra[i + 4]["grad_norm"].get<double>());
    }
    CHECK(read_bytes(straight / "checkpoints" / "step-000008" / "model.safetensors") ==
          read_bytes(resumed / "checkpoints" / "step-000008" / "model.safetensors"));
  }
}

TEST_CASE("apps: the paper's four LM configs parse and train a step", "[apps][lm][paper-configs]") {
  // A corpus with more types than the paper's last cutoff (200000), so the adaptive softmax
  // keeps its three tail clusters; only the data shrinks. On a CPU a step of the full batch
  // (96 x 256 or 56 x 384 tokens) takes minutes, so batch_size and tgt_len shrink too. The
  // 200k-row embedding (plus Adam state and the checkpoint) makes each run a few seconds.
  const fs::path corpus = make_corpus("paper-corpus", 200100);
  for (const std::string name : {"wt103-small-softmax", "wt103-small-fourier", "wt103-medium-softmax", "wt103-medium-fourier"}) {
    const fs::path work = fresh_dir(name);
    Result r = run(app("fourierformer-train") + " --config configs/lm/" + name + ".yaml --no-progress --set device=cpu" +
                   " --set data.path=" + corpus.string() + " --set data.batch_size=2 --set data.tgt_len=16" +
                   " --set eval.tgt_len=16 --set train.max_steps=1 --set train.log_interval=1" +
                   " --set train.eval_max_batches=1 --set train.checkpoint.interval=0 --set train.checkpoint.keep_best=false" +
                   " --work-dir " + work.string());
    INFO(name << "\n" << r.output);
    REQUIRE(r.code == 0);
    CHECK(r.output.find("16 layers") != std::string::npos);
    const auto records = train_records(work);
    REQUIRE(records.size() == 1);
    // At init the head is near uniform over 20000 + 3 classes: a shortlist token costs about
    // log(20003) = 9.9, a tail token that plus the log of its cluster's size.
    CHECK(records[0]["loss"].get<double>() > 9.0);
    CHECK(records[0]["loss"].get<double>() < 20.0);
    fs::remove_all(work);
  }
}

TEST_CASE("apps: LM config errors stop with one line and exit code 2", "[apps][lm][config]") {
  const fs::path corpus = make_corpus("error-corpus");
  const std::string base = app("fourierformer-train") + " --config configs/tests/lm-tiny-softmax.yaml --set data.path=" +
                           corpus.string() + " --work-dir " + fresh_dir("error-run").string();
  struct Case {
    std::string args, expect1, expect2;
  };
  const std::vector<Case> cases = {
      {" --set model.n_layr=3", "unknown key 'model.n_layr'", "did you mean 'model.n_layer'"},
      {" --set task=vision", "'task'", "lm"},
      {" --set model.d_model=wide", "'model.d_model'", "integer"},
      {" --set model.dropout=1.5", "'model.dropout'", "1.5"},
      {" --set model.attention.kind=cosine", "'model.attention.kind'", "fourier"},
      {" --set model.attention.kind=performer", "'model.attention.kind'", "fourier_rf, rfa"},
      {" --set model.attention.kind=rfa --set model.attention.features=-3", "'model.attention.features'", "-3"},
      {" --set model.attention.kind=rfa --set eval.head_diversity_segments=1", "'eval.head_diversity_segments'",
       "which rfa attention never forms"},
      {" --set model.attention.kind=fourier_rf --set model.attention.features=0", "'model.attention.features'", "0"},
      {" --set model.attention.kind=fourier_rf --set model.attention.redraw_interval=-2",
       "'model.attention.redraw_interval'", "-2"},
      {" --set model.attention.kind=fourier_rf --set model.attention.den_floor=0", "'model.attention.den_floor'", "0"},
      {" --set model.attention.kind=fourier_rf --set eval.head_diversity_segments=2", "'eval.head_diversity_segments'",
       "fourier_rf"},
      {" --set model.attention.kind=flt --set model.attention.features=0", "'model.attention.features'", "0"},
      {" --set model.attention.kind=flt --set model.attention.position_features=0",
       "'model.attention.position_features'", "0"},
      {" --set model.attention.kind=flt --set model.attention.components=-1", "'model.attention.components'", "-1"},
      {" --set model.attention.kind=flt --set model.attention.components=two", "'model.attention.components'",
       "integer"},
      {" --set model.attention.kind=flt --set eval.head_diversity_segments=2", "'eval.head_diversity_segments'",
       "flt attention never forms"},
      {" --set data.path=/nonexistent/corpus", "'data.path'", "/nonexistent/corpus' does not exist"},
      {" --set data.path=/nonexistent/corpus",
       "prepare a corpus there with scripts/data/prepare-brown.sh /nonexistent/corpus (the Brown corpus) or "
       "scripts/data/get-wikitext103.sh /nonexistent/corpus (WikiText-103)",
       "docs/data.md"},
      {" --set model.cutoffs=[20,5000]", "model.cutoffs", "vocabulary size"},
  };
  for (const Case& c : cases) {
    Result r = run(base + c.args);
    INFO(c.args << "\n" << r.output);
    CHECK(r.code == 2);
    CHECK(r.output.find(c.expect1) != std::string::npos);
    CHECK(r.output.find(c.expect2) != std::string::npos);
    CHECK(r.output.find("internal error") == std::string::npos);
  }

  // The README's commands on a machine without the corpora: the configs' default paths under
  // FF_DATA_DIR are the directories the preparation scripts write by default; the message names
  // the script with that directory.
  const fs::path data_dir = fresh_dir("no-corpora");
  const fs::path work = data_dir / "run";
  struct Readme {
    std::string config, corpus, script;
  };
  for (const Readme& c : {Readme{"brown-small-softmax", "brown", "scripts/data/prepare-brown.sh"},
                          Readme{"wt103-small-fourier", "wikitext-103", "scripts/data/get-wikitext103.sh"}}) {
    const std::string corpus = (data_dir / c.corpus).string();
    Result r = run(fmt::format("env -u FF_BROWN_DIR -u FF_WT103_DIR FF_DATA_DIR={} {} --config configs/lm/{}.yaml "
                               "--work-dir {}",
                               data_dir.string(), app("fourierformer-train"), c.config, work.string()));
    INFO(c.config << "\n" << r.output);
    CHECK(r.code == 2);
    CHECK(r.output.find(fmt::format("'{}' does not exist", corpus)) != std::string::npos);
    CHECK(r.output.find(fmt::format(" there with {} {} (docs/data.md)\n", c.script, corpus)) != std::string::npos);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(work));
  }

  // A corpus directory without its test file: named, before the work directory is created.
  const fs::path partial = fresh_dir("partial-corpus");
  write(partial / "train.txt", sentences(10, 1));
  write(partial / "valid.txt", sentences(10, 2));
  Result p = run(app("fourierformer-train") + " --config configs/tests/lm-tiny-softmax.yaml --set data.path=" +
                 partial.string() + " --work-dir " + work.string());
  INFO(p.output);
  CHECK(p.code == 2);
  CHECK(p.output == "fourierformer-train: error: --set data.path=" + partial.string() + ": 'data.path' is incomplete: "
                    "corpus directory '" + partial.string() + "' lacks test.txt; expected the files train.txt, "
                    "valid.txt, test.txt (or wiki.train.tokens, wiki.valid.tokens, wiki.test.tokens); "
                    "scripts/data/prepare-brown.sh DIR and scripts/data/get-wikitext103.sh DIR write a complete "
                    "corpus into a new DIR (docs/data.md)\n");
  CHECK_FALSE(fs::exists(work));
  Result e = run(app("fourierformer-eval") + " --checkpoint /nonexistent/run");
  INFO(e.output);
  CHECK(e.code == 2);
}

TEST_CASE("apps: fourierformer-bench times attention and a training step, as text and JSON", "[apps][bench]") {
  const fs::path dir = fresh_dir("bench");
  const fs::path attn_json = dir / "attention.json";
  Result a = run(app("fourierformer-bench") + " --warmup 0 --repeats 1 --json " + attn_json.string() +
                 " attention --kind fourier --shape 2,2,9,11,8 --causal");
  INFO(a.output);
  REQUIRE(a.code == 0);
  auto attn = nlohmann::json::parse(read_bytes(attn_json))["results"][0];
  CHECK(attn["kind"] == "fourier");
  CHECK(attn["shape"] == nlohmann::json::array({2, 2, 9, 11, 8}));
  CHECK(attn["forward_backward_ms"].get<double>() > 0.0);
  CHECK(attn["peak_extra_bytes"].get<double>() > 0.0);

  const fs::path corpus = make_corpus("bench-corpus");
  const fs::path train_json = dir / "train.json";
  Result t = run(app("fourierformer-bench") + " --warmup 1 --json " + train_json.string() +
                 " train --config configs/tests/lm-tiny-softmax.yaml --steps 2 --set data.path=" + corpus.string());
  INFO(t.output);
  REQUIRE(t.code == 0);
  auto step = nlohmann::json::parse(read_bytes(train_json))["results"][0];
  CHECK(step["units"] == "tokens");
  CHECK(step["precision"] == "fp32");
  CHECK(step["units_per_s"].get<double>() > 0.0);
  CHECK(step["units_per_step"].get<double>() == 4 * 12);  // batch_size x tgt_len of the tiny config
  CHECK(std::isfinite(step["last_loss"].get<double>()));

  // --precision bf16: the attention on bf16 inputs, the step with train.precision bf16.
  Result ab = run(app("fourierformer-bench") + " --precision bf16 --warmup 0 --repeats 1 --json " +
                  attn_json.string() + " attention --kind softmax --shape 2,2,9,11,8");
  INFO(ab.output);
  REQUIRE(ab.code == 0);
  CHECK(nlohmann::json::parse(read_bytes(attn_json))["results"][0]["dtype"] == "BF16");
  Result tb = run(app("fourierformer-bench") + " --precision bf16 --warmup 1 --json " + train_json.string() +
                  " train --config configs/tests/lm-tiny-softmax.yaml --steps 2 --set data.path=" + corpus.string());
  INFO(tb.output);
  REQUIRE(tb.code == 0);
  CHECK(tb.output.find("(bf16)") != std::string::npos);
  const auto bf16_step = nlohmann::json::parse(read_bytes(train_json))["results"][0];
  CHECK(bf16_step["precision"] == "bf16");
  CHECK(std::isfinite(bf16_step["last_loss"].get<double>()));

  // A bad shape is a usage error: one line, exit code 2.
  Result bad = run(app("fourierformer-bench") + " attention --shape 2,2,9");
  CHECK(bad.code == 2);
  CHECK(bad.output.find("B,H,Nq,Nk,D") != std::string::npos);
}

TEST_CASE("apps: an empty or too-short evaluation split is refused before the first step", "[apps][lm][errors]") {
  for (const std::string& valid : {std::string(), std::string("\n")}) {  // no token; one (<eos>)
    const fs::path corpus = make_corpus("short-valid-corpus");
    write(corpus / "valid.txt", valid);
    const fs::path work = fresh_dir("short-valid-run") / "run";
    Result r = run(app("fourierformer-train") + " --config configs/tests/lm-tiny-softmax.yaml --no-progress --set data.path=" +
                   corpus.string() + " --work-dir " + work.string());
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(r.output.find("valid split of " + corpus.string()) != std::string::npos);
    CHECK(r.output.find("step 1/") == std::string::npos);  // refused before any training
    CHECK_FALSE(fs::exists(work / "checkpoints"));
    CHECK_FALSE(fs::exists(work / "metrics.jsonl"));
    CHECK_FALSE(fs::exists(work / "config.yaml"));
    // The error is in train.log too.
    CHECK(read_bytes(work / "train.log").find("fourierformer-train: error: valid split of") != std::string::npos);
  }
}

TEST_CASE("apps: bf16 mixed precision trains the tiny LMs as fp32 does", "[apps][lm][bf16]") {
  const fs::path corpus = make_corpus("bf16-corpus");
  for (const std::string kind : {"softmax", "fourier"}) {
    std::map<std::string, double> valid;
    for (const std::string precision : {"fp32", "bf16"}) {
      const fs::path work = fresh_dir("bf16-" + kind + "-" + precision);
      Result r = run(app("fourierformer-train") + " --config configs/tests/lm-tiny-" + kind +
                     ".yaml --no-progress --overwrite --set data.path=" + corpus.string() + " --work-dir " +
                     work.string() + " --set train.max_steps=200 --set train.log_interval=50" +
                     " --set train.eval_interval=200 --set train.precision=" + precision);
      INFO(kind << " " << precision << "\n" << r.output);
      REQUIRE(r.code == 0);
      std::ifstream in(work / "metrics.jsonl");
      for (std::string line; std::getline(in, line);) {
        const auto j = nlohmann::json::parse(line);
        if (j["type"] == "eval") valid[precision] = j["loss"].get<double>();
      }
    }
    INFO(kind << ": valid loss fp32 " << valid["fp32"] << ", bf16 " << valid["bf16"]);
    // Both learn (an untrained model sits near ln 34 = 3.5; measured 2.38 and 2.36 after 200
    // steps), and bf16 tracks fp32 within 0.02 (measured: 0.001) without being the same run.
    CHECK(valid["fp32"] < 2.6);
    CHECK(valid["bf16"] != valid["fp32"]);
    CHECK(std::abs(valid["bf16"] - valid["fp32"]) < 0.02);
  }
}
