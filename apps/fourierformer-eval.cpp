// fourierformer-eval: scores a checkpoint of any registered task (apps/tasks/registry.h) on
// its splits, as text and JSON: perplexity for language models.
//
//   fourierformer-eval --checkpoint PATH [--config FILE] [--split valid|test|valid,test]
//                      [--sliding-window] [--head-diversity [--segments N]] [--json FILE]
//                      [--max-batches N] [--set key=value ...]
//
// --sliding-window is the language model's paper evaluation (eval.sliding_window: windows of
// eval.tgt_len moved one token at a time); --head-diversity adds the paper's Table 3 metric over
// N segments (eval.head_diversity_segments). Both are config overrides, so they are saved in
// the results like any other key, and a task without the key refuses them as a config error.
#include "apps/common/app.h"
#include "apps/tasks/registry.h"

int main(int argc, char** argv) {
  using namespace ff;
  apps::cli::use_passive_omp_wait(argv);
  bool sliding = false, head_diversity = false;
  int64_t segments = 100;
  apps::EvalExtras extras{
      [&](CLI::App& app) {
        app.add_flag("--sliding-window", sliding, "The paper's evaluation: a window of eval.tgt_len tokens moved by one");
        auto* diversity =
            app.add_flag("--head-diversity", head_diversity, "Also compute the paper's head-redundancy metric (Table 3)");
        app.add_option("--segments", segments, "Segments for --head-diversity (default 100)")
            ->check(apps::cli::whole_number(1))
            ->needs(diversity);
      },
      [&](train::EvalRunOptions& options) {
        if (sliding) options.overrides.push_back("eval.sliding_window=true");
        if (head_diversity) options.overrides.push_back("eval.head_diversity_segments=" + std::to_string(segments));
      },
      apps::known_splits()};
  return apps::run_eval_app(argc, argv, apps::task_factory(), extras);
}
