#include "data/text/lm_stream_iterator.h"

#include <algorithm>

#include "kernels/common.h"

namespace ff::data {

LmStreamIterator::LmStreamIterator(std::span<const int32_t> ids, const LmStreamOptions& options)
    : ids_(ids), options_(options) {
  const auto& o = options_;
  FF_USER_CHECK(o.batch_size >= 1 && o.tgt_len >= 1,
                "{}: batch size {} and segment length {} must both be at least 1", o.name, o.batch_size,
                o.tgt_len);
  FF_USER_CHECK(o.world_size >= 1 && o.rank >= 0 && o.rank < o.world_size,
                "{}: rank {} is outside [0, world size {})", o.name, o.rank, o.world_size);
  FF_USER_CHECK(!o.equal_shares || o.batch_size % o.world_size == 0,
                "{}: global batch size {} is not divisible by the world size {}; expected a multiple "
                "of {}",
                o.name, o.batch_size, o.world_size, o.world_size);
  column_length_ = static_cast<int64_t>(ids_.size()) / o.batch_size;
  FF_USER_CHECK(column_length_ >= 2,
                "{}: {} tokens are too few for a batch of {} columns; expected at least {} tokens", o.name,
                ids_.size(), o.batch_size, 2 * o.batch_size);
  first_column_ = o.batch_size * o.rank / o.world_size;
  rows_ = o.batch_size * (o.rank + 1) / o.world_size - first_column_;
  batches_per_epoch_ = (column_length_ - 1 + o.tgt_len - 1) / o.tgt_len;
}

void LmStreamIterator::seek(int64_t position) {
  FF_USER_CHECK(position >= 0, "{}: cannot seek to negative position {}", options_.name, position);
  position_ = position;
}

void LmStreamIterator::next(LmBatch& batch) {
  const int64_t index = position_ % batches_per_epoch_;
  const int64_t offset = index * options_.tgt_len;
  const int64_t t = std::min(options_.tgt_len, column_length_ - 1 - offset);
  batch.rows = rows_;
  batch.seq_len = t;
  batch.epoch = epoch();
  batch.index_in_epoch = index;
  batch.last_in_epoch = index == batches_per_epoch_ - 1;
  batch.column_offset = offset;
  batch.inputs.resize(static_cast<size_t>(rows_ * t));
  batch.targets.resize(static_cast<size_t>(rows_ * t));
  for (int64_t r = 0; r < rows_; ++r) {
    const int32_t* column = ids_.data() + (first_column_ + r) * column_length_ + offset;
    std::copy_n(column, t, batch.inputs.data() + r * t);
    std::copy_n(column + 1, t, batch.targets.data() + r * t);
  }
  ++position_;
}

}  // namespace ff::data
