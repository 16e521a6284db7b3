#pragma once
// The tasks the apps can run, chosen by the config's top-level `task:` key (default `lm`):
//
//   task: lm      language modelling (apps/tasks/lm_task.h)
//   task: image   image classification (apps/tasks/image_task.h)
//
// fourierformer-train, -eval and -bench take `task_factory()` and know no task by name; a new
// task is one entry in registry.cpp.

#include <string>
#include <vector>

#include "core/train/task.h"

namespace ff::apps {

struct TaskEntry {
  std::string name;                 // the value of `task:`
  std::string description;          // for --help and errors
  train::TaskFactory factory;       // parses the task's sections
  std::vector<std::string> splits;  // the split names its evaluate() knows
};

const std::vector<TaskEntry>& registered_tasks();

// Reads `task:` from the config root (an unknown name is a config error listing the choices)
// and hands the root to that task's factory.
train::TaskFactory task_factory();

// Every split name some task knows (for the eval app's --split check; the task checks its own).
std::vector<std::string> known_splits();

}  // namespace ff::apps
