#include "data/text/sliding_window_iterator.h"

#include <algorithm>

#include "kernels/common.h"

namespace ff::data {

LmWindowIterator::LmWindowIterator(std::span<const int32_t> ids, const LmWindowOptions& options)
    : ids_(ids), options_(options) {
  const auto& o = options_;
  FF_USER_CHECK(o.window_len >= 1 && o.batch_size >= 1,
                "{}: window length {} and batch size {} must both be at least 1", o.name, o.window_len,
                o.batch_size);
  FF_USER_CHECK(o.world_size >= 1 && o.rank >= 0 && o.rank < o.world_size,
                "{}: rank {} is outside [0, world size {})", o.name, o.rank, o.world_size);
  const auto n = static_cast<int64_t>(ids_.size());
  FF_USER_CHECK(n >= 2, "{}: {} tokens; expected at least 2 to have something to predict", o.name, n);
  window_len_ = std::min(o.window_len, n - 1);
  total_windows_ = n - window_len_;
  begin_ = total_windows_ * o.rank / o.world_size;
  end_ = total_windows_ * (o.rank + 1) / o.world_size;
  next_window_ = begin_;
}

int64_t LmWindowIterator::scored_positions() const {
  if (begin_ == end_) return 0;
  return (end_ - begin_) + (begin_ == 0 ? window_len_ - 1 : 0);
}

bool LmWindowIterator::next(LmWindowBatch& batch) {
  if (next_window_ >= end_) return false;
  const int64_t rows = std::min(options_.batch_size, end_ - next_window_);
  const int64_t L = window_len_;
  batch.rows = rows;
  batch.window_len = L;
  batch.first_window = next_window_;
  batch.inputs.resize(static_cast<size_t>(rows * L));
  batch.targets.resize(static_cast<size_t>(rows * L));
  batch.score_begin.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t w = next_window_ + r;
    std::copy_n(ids_.data() + w, L, batch.inputs.data() + r * L);
    std::copy_n(ids_.data() + w + 1, L, batch.targets.data() + r * L);
    batch.score_begin[static_cast<size_t>(r)] = static_cast<int32_t>(w == 0 ? 0 : L - 1);
  }
  next_window_ += rows;
  return true;
}

}  // namespace ff::data
