#pragma once
// The command lines of fourierformer-train and fourierformer-eval, shared by every task. An
// app is then a few lines:
//
//   #include "apps/common/app.h"
//   int main(int argc, char** argv) { return ff::apps::run_train_app(argc, argv, ff::apps::task_factory()); }
//
// Header-only (CLI11 is header-only and each app is one translation unit), so core/ does not
// depend on CLI11; the flags' validators and error lines are apps/common/cli.h. Exit codes: 0
// done, 1 internal error, 2 bad command line / config / data / checkpoint, 3 stopped by SIGTERM,
// SIGUSR1 or Ctrl-C after saving a checkpoint, 4 non-finite limit (eval: a non-finite loss).

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "apps/common/cli.h"
#include "core/train/run.h"
#include "core/train/trainer.h"

namespace ff::apps {

// Parses the train command line into options; returns -1 to go on, or an exit code.
inline int parse_train_args(int argc, char** argv, train::TrainRunOptions& options) {
  CLI::App app("Trains a FourierFormer model from a YAML config.", options.app_name);
  std::string config;
  app.add_option("-c,--config", config, "Experiment config (YAML)")->required();
  app.add_option("--set", options.overrides, "Override a config key: --set train.optimizer.lr=1e-3 (repeatable)");
  std::string work_dir;
  auto* work_dir_opt = app.add_option("--work-dir", work_dir, "Output directory (default: the config's work_dir)");
  std::string resume_from;
  auto* resume =
      app.add_option("--resume", resume_from,
                     "Continue from a checkpoint: PATH (a checkpoint, checkpoints or work directory), or the "
                     "work directory's latest checkpoint when PATH is omitted (a fresh start when there is none)")
          ->expected(0, 1);
  app.add_flag("--overwrite", options.overwrite,
               "Start again in a work directory that holds a run: removes its config.yaml, train.log, "
               "metrics.jsonl and checkpoints/ (nothing else) once the new start has passed its checks");
  app.add_flag("--print-config", options.print_config, "Print the resolved config and exit");
  bool progress = false, no_progress = false;
  auto* progress_opt = app.add_flag("--progress", progress, "Draw the progress line even when stderr is not a terminal");
  app.add_flag("--no-progress", no_progress, "Never draw the progress line")->excludes(progress_opt);
  cli::add_version_flag(app);
  if (int code = cli::parse(app, argc, argv); code >= 0) return code;
  options.config = config;
  if (work_dir_opt->count() > 0) options.work_dir = work_dir;
  options.resume = resume->count() > 0;
  options.resume_from = resume_from;
  if (progress) options.progress = true;
  if (no_progress) options.progress = false;
  return -1;
}

// Flags of one task's evaluation (e.g. the LM's --sliding-window): `add` registers them, `apply`
// turns the parsed values into options (usually config overrides) after a successful parse;
// `splits` are the task's split names, which --split is checked against (any name when empty).
struct EvalExtras {
  std::function<void(CLI::App&)> add;
  std::function<void(train::EvalRunOptions&)> apply;
  std::vector<std::string> splits;
};

inline int parse_eval_args(int argc, char** argv, train::EvalRunOptions& options, const EvalExtras& extras = {}) {
  CLI::App app("Evaluates a FourierFormer checkpoint.", options.app_name);
  std::string config, checkpoint, json_out;
  auto* config_opt = app.add_option("-c,--config", config, "Experiment config (default: the checkpoint's config.yaml)");
  app.add_option("--checkpoint", checkpoint, "A checkpoint, checkpoints or work directory")->required();
  app.add_option("--set", options.overrides, "Override a config key (repeatable)");
  std::string splits;
  auto* split_opt = app.add_option("--split", splits, "Comma-separated splits to score (default: test)");
  if (!extras.splits.empty()) split_opt->check(cli::list_of(extras.splits, "split"));
  app.add_option("--max-batches", options.max_batches, "Score at most this many batches per split (0: all)")
      ->check(cli::whole_number(0));
  auto* json_opt =
      app.add_option("--json", json_out, "Also write the results to this JSON file")->check(cli::output_file());
  if (extras.add) extras.add(app);
  cli::add_version_flag(app);
  if (int code = cli::parse(app, argc, argv); code >= 0) return code;
  if (config_opt->count() > 0) options.config = config;
  options.checkpoint = checkpoint;
  if (split_opt->count() > 0) options.splits = cli::split_commas(splits);
  if (json_opt->count() > 0) options.json_out = json_out;
  if (extras.apply) extras.apply(options);
  return -1;
}

// main() of fourierformer-train.
inline int run_train_app(int argc, char** argv, const train::TaskFactory& factory) {
  train::TrainRunOptions options;
  if (int code = parse_train_args(argc, argv, options); code >= 0) return code;
  return train::run_training(options, factory);
}

// main() of fourierformer-eval.
inline int run_eval_app(int argc, char** argv, const train::TaskFactory& factory, const EvalExtras& extras = {}) {
  train::EvalRunOptions options;
  if (int code = parse_eval_args(argc, argv, options, extras); code >= 0) return code;
  return train::run_evaluation(options, factory);
}

}  // namespace ff::apps
