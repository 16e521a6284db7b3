// fourierformer-eval: perplexity of a language-model checkpoint, as text and JSON.
//
//   fourierformer-eval --checkpoint PATH [--config FILE] [--split valid|test|valid,test]
//                      [--sliding-window] [--head-diversity [--segments N]] [--json FILE]
//                      [--max-batches N] [--set key=value ...]
//
// --sliding-window is the paper's evaluation (eval.sliding_window: windows of eval.tgt_len
// moved one token at a time); --head-diversity adds the paper's Table 3 metric over N
// segments (eval.head_diversity_segments). Both are config overrides, so they are saved in
// the results like any other key.
#include "apps/common/app.h"
#include "apps/common/lm_task.h"

int main(int argc, char** argv) {
  using namespace ff;
  train::EvalRunOptions options;
  CLI::App app("Evaluates a FourierFormer language-model checkpoint (loss and perplexity).", options.app_name);
  std::string config, checkpoint, json_out, splits;
  bool sliding = false, head_diversity = false;
  int64_t segments = 100;
  auto* config_opt = app.add_option("-c,--config", config, "Experiment config (default: the checkpoint's config.yaml)");
  app.add_option("--checkpoint", checkpoint, "A checkpoint, checkpoints or work directory")->required();
  app.add_option("--set", options.overrides, "Override a config key (repeatable)");
  app.add_option("--split", splits, "Split(s) to score: valid, test or valid,test (default: test)");
  app.add_flag("--sliding-window", sliding, "The paper's evaluation: a window of eval.tgt_len tokens moved by one");
  app.add_flag("--head-diversity", head_diversity, "Also compute the paper's head-redundancy metric (Table 3)");
  app.add_option("--segments", segments, "Segments for --head-diversity (default 100)")->check(CLI::PositiveNumber);
  app.add_option("--max-batches", options.max_batches, "Score at most this many batches per split (0: all)");
  auto* json_opt = app.add_option("--json", json_out, "Also write the results to this JSON file");
  apps::detail::add_version_flag(app);
  if (int code = apps::detail::parse_command_line(app, argc, argv); code >= 0) return code;

  if (config_opt->count() > 0) options.config = config;
  options.checkpoint = checkpoint;
  if (!splits.empty()) {
    options.splits.clear();
    std::stringstream in(splits);
    for (std::string s; std::getline(in, s, ',');)
      if (!s.empty()) options.splits.push_back(s);
  }
  if (json_opt->count() > 0) options.json_out = json_out;
  if (sliding) options.overrides.push_back("eval.sliding_window=true");
  if (head_diversity) options.overrides.push_back("eval.head_diversity_segments=" + std::to_string(segments));
  return train::run_evaluation(options, apps::lm_task_factory());
}
