#include "core/train/metrics.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <sstream>
#include <vector>

#include "core/io/atomic_file.h"
#include "kernels/common.h"

namespace ff::train {

MetricsWriter::MetricsWriter(const std::filesystem::path& path, int64_t keep_until_step) {
  if (keep_until_step >= 0 && std::filesystem::exists(path)) {
    std::ifstream in(path);
    std::string kept, line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (record.is_discarded()) continue;  // a line cut by a crash
      if (record.contains("step") && record["step"].is_number() && record["step"].get<int64_t>() > keep_until_step)
        continue;
      kept += line + "\n";
    }
    io::write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kept.data()), kept.size()));
  }
  out_.open(path, std::ios::app);
  FF_USER_CHECK(out_.good(), "cannot write {}", path.string());
}

void MetricsWriter::write(const nlohmann::ordered_json& record) {
  if (!out_.is_open()) return;
  out_ << record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  out_.flush();
}

bool ProgressLine::stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

bool ProgressLine::due() const {
  return enabled_ && (!shown_ || std::chrono::steady_clock::now() - last_draw_ >= std::chrono::milliseconds(100));
}

void ProgressLine::show(const std::string& text, bool force) {
  if (!enabled_) return;
  text_ = text;
  const auto now = std::chrono::steady_clock::now();
  if (!force && shown_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  std::fprintf(stderr, "\r\033[K%s", text_.c_str());
  std::fflush(stderr);
  shown_ = true;
}

void ProgressLine::clear() {
  if (!enabled_ || !shown_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  shown_ = false;
}

void ProgressLine::redraw() {
  if (enabled_ && !text_.empty()) show(text_, /*force=*/true);
}

EvalProgressLine::EvalProgressLine(ProgressLine& line, std::string label)
    : line_(line), label_(std::move(label)), saved_text_(line.text()), start_(std::chrono::steady_clock::now()),
      last_log_(start_) {}

EvalProgressLine::~EvalProgressLine() {
  if (!line_.enabled()) return;
  line_.clear();
  if (!saved_text_.empty()) line_.show(saved_text_, /*force=*/true);
}

std::function<void(int64_t, int64_t)> EvalProgressLine::callback() {
  return [this](int64_t done, int64_t total) { update(done, total); };
}

void EvalProgressLine::update(int64_t done, int64_t total) {
  const auto now = std::chrono::steady_clock::now();
  const bool log_due = !line_.enabled() && now - last_log_ >= std::chrono::seconds(60);
  const bool first = !drawn_;
  if (!(line_.enabled() && (first || line_.due())) && !log_due) return;
  drawn_ = true;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  std::string text = fmt::format("{}: {}", label_, done);
  if (total > 0) {
    const double eta = done > 0 ? seconds / static_cast<double>(done) * static_cast<double>(total - done) : NAN;
    text += fmt::format("/{} batches | elapsed {} | ETA {}", total, format_duration(seconds), format_duration(eta));
  } else {
    text += fmt::format(" batches | elapsed {}", format_duration(seconds));
  }
  if (line_.enabled()) {
    line_.show(text, /*force=*/first);
  } else {
    last_log_ = now;
    spdlog::info("{}", text);
  }
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 86400) return fmt::format("{}d{:02d}h", s / 86400, (s % 86400) / 3600);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string format_count(double value) {
  if (!std::isfinite(value)) return "?";
  if (value >= 1e9) return fmt::format("{:.1f}G", value / 1e9);
  if (value >= 1e6) return fmt::format("{:.1f}M", value / 1e6);
  if (value >= 1e3) return fmt::format("{:.1f}k", value / 1e3);
  return fmt::format("{:.0f}", value);
}

}  // namespace ff::train
