// The command lines of fourierformer-train, -eval and -bench (apps/common/cli.h): every kind
// of mistake on every app's flags is one line naming the flag, what it expects and what it got,
// exit code 2, and nothing written, as a user sees it.

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "data/temp_dir.h"
#include "support/command.h"
#include "support/paths.h"

namespace fs = std::filesystem;
using ff::data::testing::TempDir;
using ff::testing::CommandResult;
using ff::testing::run_command;

namespace {

struct Case {
  std::string app, arguments, message;
};

// `app arguments` in the empty directory `cwd`, time-bounded: a flag that slipped through would
// start the real work (a benchmark of the default shape takes minutes).
CommandResult run_app(const fs::path& cwd, const std::string& app, const std::string& arguments) {
  return run_command(fmt::format("cd '{}' && timeout 120 '{}/apps/{}' {}", cwd.string(), ff::testing::binary_dir(), app, arguments));
}

void check_usage_errors(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    INFO(c.app << " " << c.arguments);
    TempDir cwd;
    const CommandResult r = run_app(cwd.path(), c.app, c.arguments);
    CHECK(r.code == 2);
    CHECK(r.output == c.app + ": error: " + c.message + "\n");
    // Refused before any work: no work directory, JSON file or log was written.
    CHECK(fs::is_empty(cwd.path()));
  }
}

const std::string kConfig = fmt::format("'{}/configs/tests/lm-tiny-softmax.yaml'", ff::testing::source_dir());

}  // namespace

TEST_CASE("apps: fourierformer-eval's flag mistakes are one readable line, exit 2", "[apps][cli]") {
  const std::string eval = "fourierformer-eval";
  check_usage_errors({
      {eval, "--segments 0", "--segments: expected a whole number of at least 1, got '0'"},
      {eval, "--checkpoint run --head-diversity --segments 1e3",
       "--segments: expected a whole number of at least 1, got '1e3'"},
      {eval, "--checkpoint run --segments 3", "--segments needs --head-diversity"},
      {eval, "--checkpoint run --head-diversity --segments", "--segments needs a value"},
      {eval, "--checkpoint run --max-batches -3", "--max-batches: expected a whole number of at least 0, got '-3'"},
      {eval, "--checkpoint run --max-batches=2.5", "--max-batches: expected a whole number of at least 0, got '2.5'"},
      {eval, "--checkpoint run --max-batches ten", "--max-batches: expected a whole number of at least 0, got 'ten'"},
      {eval, "--checkpoint run --max-batches 1 --max-batches 2", "--max-batches is given 2 times; give it once"},
      {eval, "--checkpoint run --split valid,tset",
       "--split: unknown split 'tset' in 'valid,tset'; expected train, valid, test or val, separated by commas"},
      {eval, "--checkpoint run --split ''", "--split needs a value, got ''"},
      {eval, "--checkpoint run --json --split valid", "--json needs a value before '--split'"},
      {eval, "--checkpoint run --json no-such-dir/r.json",
       "--json: cannot write 'no-such-dir/r.json': directory 'no-such-dir' does not exist"},
      {eval, "--checkpoint run --json .", "--json: '.' is a directory; expected a file to write"},
      {eval, "--checkpoint run --sliding-window=yes", "--sliding-window takes no value, got '--sliding-window=yes'"},
      {eval, "--checkpoint run --segment 3", "unknown option '--segment'; did you mean '--segments'?"},
      {eval, "--checkpoint run --max-batch=3", "unknown option '--max-batch'; did you mean '--max-batches'?"},
      {eval, "--checkpoint run --zzz", "unknown option '--zzz' (see --help)"},
      {eval, "--checkpoint run valid", "unexpected argument 'valid' (see --help)"},
      {eval, "--checkpoint", "--checkpoint needs a value"},
      {eval, "", "--checkpoint is required"},
  });
}

TEST_CASE("apps: fourierformer-train's flag mistakes are one readable line, exit 2", "[apps][cli]") {
  const std::string train = "fourierformer-train";
  const std::string config = "--config " + kConfig + " --work-dir run";
  check_usage_errors({
      {train, "", "--config is required"},
      {train, "-c", "-c needs a value"},
      {train, "configs/tests/lm-tiny-softmax.yaml", "unexpected argument 'configs/tests/lm-tiny-softmax.yaml' (see --help)"},
      {train, config + " --progress --no-progress", "--progress cannot be used with --no-progress"},
      {train, "--config " + kConfig + " --work-dir --resume", "--work-dir needs a value before '--resume'"},
      {train, config + " --print-config=no", "--print-config takes no value, got '--print-config=no'"},
      {train, config + " --set", "--set needs a value"},
      {train, config + " --resume a --resume b", "--resume is given 2 times; give it once"},
      {train, config + " --work-dirs run2", "unknown option '--work-dirs'; did you mean '--work-dir'?"},
  });
}

TEST_CASE("apps: fourierformer-bench's flag mistakes are one readable line, exit 2", "[apps][cli]") {
  const std::string bench = "fourierformer-bench";
  check_usage_errors({
      {bench, "", "expected a subcommand: attention, train, data or allreduce"},
      {bench, "attn", "unknown subcommand 'attn'; expected attention, train, data or allreduce"},
      {bench, "--warmup 2000 attention", "--warmup: expected a whole number from 0 to 1000, got '2000'"},
      {bench, "attention --repeats 0", "--repeats: expected a whole number from 1 to 1000, got '0'"},
      {bench, "--threads -1 attention", "--threads: expected a whole number from 0 to 1024, got '-1'"},
      {bench, "--device gpu attention", "--device: unknown device 'gpu': expected cpu, cuda or cuda:N"},
      {bench, "--json out/a.json attention", "--json: cannot write 'out/a.json': directory 'out' does not exist"},
      {bench, "attention --kind cosine", "--kind: expected softmax, fourier, fourier_rf, rfa or flt, got 'cosine'"},
      {bench, "attention --shape 2,2,9",
       "--shape: expected B,H,Nq,Nk,D: 5 whole numbers of at least 1 separated by commas, got '2,2,9'"},
      {bench, "attention --shape 2,2,9,11,0",
       "--shape: expected B,H,Nq,Nk,D: 5 whole numbers of at least 1 separated by commas, got '2,2,9,11,0'"},
      {bench, "attention --shape", "--shape needs a value"},
      {bench, "attention --shapes all", "--shapes: expected paper, got 'all'"},
      {bench, "attention --shapes paper --shape 2,2,9,11,8", "--shape cannot be used with --shapes"},
      {bench, "attention --shapes paper --causal", "--causal cannot be used with --shapes"},
      {bench, "attention --causal=1", "--causal takes no value, got '--causal=1'"},
      {bench, "attention --steps 3", "--steps is an option of train, not of attention"},
      {bench, "train", "--config is required"},
      {bench, "train --config " + kConfig + " --steps 0", "--steps: expected a whole number from 1 to 100000, got '0'"},
      {bench, "train --config " + kConfig + " --repeats 3",
       "--repeats applies to the attention benchmark; train times --steps steps"},
  });
}

TEST_CASE("apps: --help and --version answer with exit code 0 and write nothing", "[apps][cli]") {
  for (const std::string app : {"fourierformer-train", "fourierformer-eval", "fourierformer-bench"}) {
    TempDir cwd;
    const CommandResult help = run_app(cwd.path(), app, "--help");
    INFO(app << "\n" << help.output);
    CHECK(help.code == 0);
    CHECK(help.output.find("Usage: " + app) != std::string::npos);
    const CommandResult version = run_app(cwd.path(), app, "--version");
    INFO(version.output);
    CHECK(version.code == 0);
    CHECK(version.output.starts_with(app + " "));
    CHECK(version.output.find(" (git ") != std::string::npos);
    CHECK(fs::is_empty(cwd.path()));
  }
}
