#pragma once
// What a run writes as it goes: metrics.jsonl (one JSON object per line, flushed line by line)
// and, on a terminal, a progress line redrawn in place under the spdlog output.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace ff::train {

class MetricsWriter {
 public:
  MetricsWriter() = default;  // writes nothing
  // Appends to path. keep_until_step >= 0 first drops records with a larger "step" (a resumed
  // run rewrites what the interrupted run logged after its checkpoint).
  explicit MetricsWriter(const std::filesystem::path& path, int64_t keep_until_step = -1);
  void write(const nlohmann::ordered_json& record);

 private:
  std::ofstream out_;
};

// "step 1200/500000 | loss 4.123 | ppl 61.8 | 5.1k tokens/s | lr 2.50e-04 | ETA 3h12m" on
// stderr, redrawn with '\r'. Enabled only when stderr is a terminal (or when forced).
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  static bool stderr_is_terminal();
  bool enabled() const { return enabled_; }
  // Draws text, at most ~10 times a second unless forced (the text is kept for redraw()).
  void show(const std::string& text, bool force = false);
  // Whether show() would draw now (so a caller can skip building the text, or reading the
  // device for it).
  bool due() const;
  const std::string& text() const { return text_; }
  // Erases the line (before other output), and redraws it after.
  void clear();
  void redraw();

 private:
  bool enabled_;
  bool shown_ = false;
  std::string text_;
  std::chrono::steady_clock::time_point last_draw_{};
};

// An evaluation's progress: on a terminal, "<label>: 120/400 batches | ETA 1m02s" on the
// progress line (restored when done); elsewhere (train.log, Slurm output) the same as a log line
// at most once a minute, so a long sliding-window evaluation is visibly alive.
class EvalProgressLine {
 public:
  EvalProgressLine(ProgressLine& line, std::string label);
  ~EvalProgressLine();
  EvalProgressLine(const EvalProgressLine&) = delete;
  EvalProgressLine& operator=(const EvalProgressLine&) = delete;
  // The callback for Task::evaluate; valid while this object lives.
  std::function<void(int64_t, int64_t)> callback();

 private:
  void update(int64_t done, int64_t total);
  ProgressLine& line_;
  std::string label_, saved_text_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_log_;
};

// "3h12m", "4m05s", "12s".
std::string format_duration(double seconds);
// 5123 -> "5.1k", 1.2e6 -> "1.2M".
std::string format_count(double value);

}  // namespace ff::train
