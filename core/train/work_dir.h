#pragma once
// The work directory's start rules (docs/training.md, "Work directory"): a run never lands on
// top of another one by accident.
//
//   the directory holds a run (config.yaml, records in metrics.jsonl, or anything in
//   checkpoints/)      -> refused unless --resume (continue it) or --overwrite (start again)
//   --overwrite         -> removes exactly the files a run writes (kRunFiles), nothing else,
//                          and only once the new start has passed every check
//   a failed start      -> config.yaml is not written, so a start that never trained does not
//                          make the directory "hold a run"
//
// train.log alone (the errors of failed starts) does not count as a run: a new start appends.

#include <array>
#include <filesystem>
#include <string>
#include <vector>

namespace ff::train {

// What a run writes into its work directory.
inline constexpr std::array<const char*, 4> kRunFiles = {"config.yaml", "train.log", "metrics.jsonl", "checkpoints"};

// "" when `work_dir` holds no run, else what it holds ("checkpoints up to step-000500 (latest),
// 12 records in metrics.jsonl, config.yaml").
std::string describe_previous_run(const std::filesystem::path& work_dir);

// ff::UserError, before anything is written, when the run cannot use `work_dir`: something
// that is not a directory is in the way, it (or the parent it would be created in) is not
// writable, it holds a run and neither `resume` nor `overwrite` is set, or both are.
void check_work_dir(const std::filesystem::path& work_dir, bool resume, bool overwrite);

// Removes kRunFiles from work_dir (--overwrite); returns the names removed.
std::vector<std::string> remove_previous_run(const std::filesystem::path& work_dir);

}  // namespace ff::train
