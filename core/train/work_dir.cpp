#include "core/train/work_dir.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "kernels/common.h"

namespace ff::train {

namespace fs = std::filesystem;

namespace {

int64_t count_lines(const fs::path& path) {
  std::ifstream in(path);
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

bool writable(const fs::path& dir) { return ::access(dir.c_str(), W_OK | X_OK) == 0; }

}  // namespace

std::string describe_previous_run(const fs::path& work_dir) {
  std::error_code ec;
  if (!fs::is_directory(work_dir, ec)) return "";
  std::vector<std::string> parts;
  const fs::path ckpts = work_dir / "checkpoints";
  if (fs::is_directory(ckpts, ec) && !fs::is_empty(ckpts, ec)) {
    std::string latest;
    std::ifstream in(ckpts / "latest");
    std::getline(in, latest);
    parts.push_back(latest.empty() ? "a checkpoints/ directory"
                                   : fmt::format("checkpoints up to {} (checkpoints/latest)", latest));
  }
  if (const int64_t n = fs::exists(work_dir / "metrics.jsonl", ec) ? count_lines(work_dir / "metrics.jsonl") : 0; n > 0)
    parts.push_back(fmt::format("{} record{} in metrics.jsonl", n, n == 1 ? "" : "s"));
  if (fs::exists(work_dir / "config.yaml", ec)) parts.push_back("config.yaml");
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out;
}

void check_work_dir(const fs::path& work_dir, bool resume, bool overwrite) {
  FF_USER_CHECK(!(resume && overwrite),
                "--resume continues the run in '{}' and --overwrite starts it again: give one of them",
                work_dir.string());
  std::error_code ec;
  if (fs::exists(work_dir, ec)) {
    FF_USER_CHECK(fs::is_directory(work_dir, ec), "work directory '{}' exists and is not a directory",
                  work_dir.string());
    FF_USER_CHECK(writable(work_dir), "work directory '{}' is not writable", work_dir.string());
    if (!resume && !overwrite) {
      const std::string previous = describe_previous_run(work_dir);
      FF_USER_CHECK(previous.empty(),
                    "work directory '{}' already holds a run ({}); continue it with --resume, start it again with "
                    "--overwrite (removes {} there, nothing else), or choose another --work-dir",
                    work_dir.string(), previous, "config.yaml, train.log, metrics.jsonl and checkpoints/");
    }
    for (const char* name : kRunFiles) {
      const fs::path p = work_dir / name;
      const bool want_dir = std::string(name) == "checkpoints";
      if (fs::exists(p, ec))
        FF_USER_CHECK(fs::is_directory(p, ec) == want_dir, "'{}' is in the way: expected {} there", p.string(),
                      want_dir ? "the run's checkpoints directory" : "a file of the run");
    }
    return;
  }
  // It will be created: the nearest existing ancestor must be a writable directory.
  fs::path parent = fs::absolute(work_dir, ec).parent_path();
  while (!parent.empty() && !fs::exists(parent, ec) && parent != parent.root_path()) parent = parent.parent_path();
  FF_USER_CHECK(fs::is_directory(parent, ec), "cannot create the work directory '{}': '{}' is not a directory",
                work_dir.string(), parent.string());
  FF_USER_CHECK(writable(parent), "cannot create the work directory '{}': '{}' is not writable", work_dir.string(),
                parent.string());
}

std::vector<std::string> remove_previous_run(const fs::path& work_dir) {
  std::vector<std::string> removed;
  for (const char* name : kRunFiles) {
    const fs::path p = work_dir / name;
    std::error_code ec;
    if (!fs::exists(p, ec)) continue;
    fs::remove_all(p, ec);
    FF_USER_CHECK(!ec, "--overwrite: cannot remove '{}': {}", p.string(), ec.message());
    removed.push_back(name);
  }
  return removed;
}

}  // namespace ff::train
