// fourierformer-train: trains the language model of a YAML config (configs/lm/*.yaml).
// Command line, exit codes and outputs: docs/training.md.
#include "apps/common/app.h"
#include "apps/common/lm_task.h"

int main(int argc, char** argv) { return ff::apps::run_train_app(argc, argv, ff::apps::lm_task_factory()); }
