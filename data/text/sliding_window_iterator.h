#pragma once
// The paper's evaluation: windows of L tokens moved one token at a time over a split's
// stream. Window w reads inputs stream[w, w + L) and predicts targets stream[w + 1, w + L + 1);
// window 0 scores all L positions, every later window only its last, so the stream's N - 1
// targets are each scored exactly once (window 0: targets 1..L, window w > 0: target w + L),
// every scored target after the first L with a full window of context. There are N - L
// windows (one window of N - 1 tokens when N - 1 < L). PPL = exp(sum of scored losses / N - 1).
//
// Windows are independent (no segment memory), so they are batched: each batch holds up to
// batch_size windows as rows. With world_size ranks, rank r evaluates the contiguous windows
// [K*r/W, K*(r+1)/W) of the K windows; summing the ranks' losses and counts gives the total.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ff::data {

struct LmWindowOptions {
  int64_t window_len = 1;  // L
  int64_t batch_size = 1;  // windows per batch
  int rank = 0;
  int world_size = 1;
  std::string name = "token stream";  // in error messages
};

struct LmWindowBatch {
  int64_t rows = 0;                  // windows in this batch
  int64_t window_len = 0;            // L (columns of inputs/targets)
  std::vector<int32_t> inputs;       // (rows, window_len), row-major
  std::vector<int32_t> targets;      // (rows, window_len)
  std::vector<int32_t> score_begin;  // (rows): row r scores positions [score_begin[r], window_len)
  int64_t first_window = 0;          // index of row 0's window (= its start in the stream)
};

class LmWindowIterator {
 public:
  // `ids` must outlive the iterator. ff::UserError when the stream has fewer than 2 tokens
  // or the options are out of range.
  LmWindowIterator(std::span<const int32_t> ids, const LmWindowOptions& options);

  int64_t window_len() const { return window_len_; }  // min(L, N - 1)
  int64_t total_windows() const { return total_windows_; }
  int64_t windows_begin() const { return begin_; }  // this rank's windows [begin, end)
  int64_t windows_end() const { return end_; }
  // Positions this rank scores (summed over ranks: N - 1).
  int64_t scored_positions() const;

  // Fills `batch` with the next windows; false (batch untouched) when this rank is done.
  bool next(LmWindowBatch& batch);
  void reset() { next_window_ = begin_; }

 private:
  std::span<const int32_t> ids_;
  LmWindowOptions options_;
  int64_t window_len_ = 0, total_windows_ = 0, begin_ = 0, end_ = 0, next_window_ = 0;
};

}  // namespace ff::data
