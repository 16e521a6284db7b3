// fourierformer-train: trains the task of a YAML config (`task:`, apps/tasks/registry.h).
// Command line, exit codes and outputs: docs/training.md.
#include "apps/common/app.h"
#include "apps/tasks/registry.h"

int main(int argc, char** argv) {
  ff::apps::cli::use_passive_omp_wait(argv);
  return ff::apps::run_train_app(argc, argv, ff::apps::task_factory());
}
