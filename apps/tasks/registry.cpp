#include "apps/tasks/registry.h"

#include <algorithm>

#include "apps/tasks/image_task.h"
#include "apps/tasks/lm_task.h"
#include "data/text/split.h"

namespace ff::apps {

namespace {

std::vector<std::string> text_splits() {
  std::vector<std::string> out;
  for (data::Split s : data::kAllSplits) out.emplace_back(data::split_name(s));
  return out;
}

}  // namespace

const std::vector<TaskEntry>& registered_tasks() {
  static const std::vector<TaskEntry> tasks = {
      {"lm", "language modelling: a Transformer-XL-style LM on a text corpus", lm_task_factory(), text_splits()},
      {"image", "image classification: a Vision Transformer (DeiT) on an ImageFolder or IDX files",
       image_task_factory(), {"train", "val", "valid", "test"}},
  };
  return tasks;
}

train::TaskFactory task_factory() {
  return [](const config::Section& root) -> train::TaskBuilder {
    std::vector<std::string> names;
    for (const TaskEntry& t : registered_tasks()) names.push_back(t.name);
    const std::string name = root.choice("task", "lm", names);
    for (const TaskEntry& t : registered_tasks())
      if (t.name == name) return t.factory(root);
    throw Error("unreachable: choice() returned an unregistered task");
  };
}

std::vector<std::string> known_splits() {
  std::vector<std::string> out;
  for (const TaskEntry& t : registered_tasks())
    for (const std::string& s : t.splits)
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  return out;
}

}  // namespace ff::apps
