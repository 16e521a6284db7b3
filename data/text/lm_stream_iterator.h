#pragma once
// Training (and ordinary evaluation) batches over a token stream, as Transformer-XL cuts it:
// the stream's first (N / batch_size) * batch_size tokens become batch_size columns of
// C = N / batch_size consecutive tokens (column b is stream[b*C, (b+1)*C)); batch i holds
// rows column[i*T, i*T + t) as inputs and column[i*T + 1, i*T + t + 1) as targets, with
// t = min(T, C - 1 - i*T), so an epoch is ceil((C - 1) / T) batches and each column's
// targets 1..C-1 are each seen once. Epochs wrap around.
//
// Data parallel: with world_size ranks, rank r holds columns [r*B/W, (r+1)*B/W) of the global
// batch (rounded down), so the ranks' rows stacked in rank order are the one-rank batch. Training
// needs equal shares (B divisible by W); evaluation (equal_shares false) takes any B, some ranks
// holding one column more than others, or none when B < W.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ff::data {

struct LmStreamOptions {
  int64_t batch_size = 1;  // global, over all ranks
  int64_t tgt_len = 1;     // T, tokens per segment
  int rank = 0;
  int world_size = 1;
  bool equal_shares = true;  // refuse a batch_size that does not divide by world_size
  std::string name = "token stream";  // in error messages, e.g. "train split of data/wt103"
};

struct LmBatch {
  int64_t rows = 0;              // this rank's columns
  int64_t seq_len = 0;           // t: T, or fewer for the last segment of an epoch
  std::vector<int32_t> inputs;   // (rows, seq_len), row-major
  std::vector<int32_t> targets;  // (rows, seq_len): the next token of each input
  int64_t epoch = 0;
  int64_t index_in_epoch = 0;
  bool last_in_epoch = false;
  int64_t column_offset = 0;  // position of inputs[., 0] within its column
};

class LmStreamIterator {
 public:
  // `ids` must outlive the iterator. ff::UserError for a batch size not divisible by
  // world_size (with equal_shares), a bad rank, or a stream too short for batch_size columns of
  // 2+ tokens.
  LmStreamIterator(std::span<const int32_t> ids, const LmStreamOptions& options);

  int64_t rows() const { return rows_; }
  int64_t column_length() const { return column_length_; }
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  // The number of the next batch, counting from the first batch of epoch 0: save it, and
  // seek() to it to resume with identical batches.
  int64_t position() const { return position_; }
  void seek(int64_t position);
  int64_t epoch() const { return position_ / batches_per_epoch_; }

  // Fills `batch` (reusing its buffers) with the batch at position() and advances.
  void next(LmBatch& batch);

 private:
  std::span<const int32_t> ids_;
  LmStreamOptions options_;
  int64_t rows_ = 0, first_column_ = 0, column_length_ = 0, batches_per_epoch_ = 0;
  int64_t position_ = 0;
};

}  // namespace ff::data
