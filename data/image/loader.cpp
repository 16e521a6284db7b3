#include "data/image/loader.h"

#include <fmt/format.h>

#include <algorithm>

#include "kernels/common.h"

namespace ff::data {

BatchLoader::BatchLoader(LoaderOptions options, Fill fill, Name name)
    : options_(options), fill_(std::move(fill)), name_(std::move(name)) {
  FF_CHECK(options_.batch_size >= 1 && options_.sample_floats >= 0 && options_.threads >= 0 && options_.prefetch >= 1,
           "BatchLoader: batch size {}, sample floats {}, threads {}, prefetch {}", options_.batch_size,
           options_.sample_floats, options_.threads, options_.prefetch);
  slots_.resize(static_cast<size_t>(options_.threads == 0 ? 1 : options_.prefetch));
  for (Slot& s : slots_) {
    s.batch.sample_floats = options_.sample_floats;
    s.batch.images.assign(static_cast<size_t>(options_.batch_size * options_.sample_floats), 0.0f);
    s.batch.labels.assign(static_cast<size_t>(options_.batch_size), 0);
    s.batch.samples.assign(static_cast<size_t>(options_.batch_size), -1);
  }
}

BatchLoader::~BatchLoader() { stop_workers(); }

void BatchLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  ready_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  stop_ = false;
}

int64_t BatchLoader::batch_size_of(int64_t batch) const {
  const int64_t n = static_cast<int64_t>(order_.size());
  return std::min(options_.batch_size, n - batch * options_.batch_size);
}

void BatchLoader::start_epoch(int64_t epoch, std::vector<int64_t> order, int64_t first_batch) {
  stop_workers();
  order_ = std::move(order);
  epoch_ = epoch;
  const int64_t n = static_cast<int64_t>(order_.size()), B = options_.batch_size;
  batches_ = options_.drop_last ? n / B : (n + B - 1) / B;
  FF_USER_CHECK(first_batch >= 0 && first_batch <= batches_,
                "the data position (batch {} of epoch {}) is past the epoch's {} batches", first_batch, epoch, batches_);
  first_batch_ = consumed_ = first_batch;
  next_position_ = first_batch * B;
  for (Slot& s : slots_) {
    s.batch_index = -1;
    s.done = 0;
    s.error = nullptr;
  }
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { worker(); });
}

std::exception_ptr BatchLoader::fill_position(int64_t position, SampleBatch& batch) {
  const int64_t n = static_cast<int64_t>(order_.size());
  const int64_t slot = position % options_.batch_size;
  for (int64_t attempt = 0; attempt < n; ++attempt) {
    const int64_t sample = order_[static_cast<size_t>((position + attempt) % n)];
    try {
      fill_(sample, epoch_, slot, batch);
      batch.samples[static_cast<size_t>(slot)] = sample;
      return nullptr;
    } catch (const UserError& e) {
      if (!options_.skip_unreadable) return std::current_exception();
      std::lock_guard<std::mutex> lock(mutex_);
      const std::string name = name_ ? name_(sample) : fmt::format("sample {}", sample);
      if (std::find(skipped_names_.begin(), skipped_names_.end(), name) == skipped_names_.end()) {
        skipped_names_.push_back(name);
        ++skipped_;
      }
    }
  }
  return std::make_exception_ptr(
      UserError(fmt::format("every one of the epoch's {} samples is unreadable (data.skip_unreadable)", n)));
}

void BatchLoader::worker() {
  const int64_t B = options_.batch_size;
  const int64_t end = options_.drop_last ? batches_ * B : static_cast<int64_t>(order_.size());
  const int64_t R = static_cast<int64_t>(slots_.size());
  for (;;) {
    int64_t position = 0;
    Slot* slot = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [&] {
        if (stop_ || next_position_ >= end) return true;
        const int64_t b = next_position_ / B;
        const Slot& s = slots_[static_cast<size_t>(b % R)];
        return s.batch_index == -1 || s.batch_index == b;
      });
      if (stop_ || next_position_ >= end) return;
      position = next_position_++;
      const int64_t b = position / B;
      slot = &slots_[static_cast<size_t>(b % R)];
      if (slot->batch_index == -1) {
        slot->batch_index = b;
        slot->done = 0;
        slot->error = nullptr;
        slot->batch.index = b;
        slot->batch.size = batch_size_of(b);
      }
    }
    std::exception_ptr error = fill_position(position, slot->batch);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (error && !slot->error) slot->error = error;
      if (++slot->done == slot->batch.size) ready_cv_.notify_all();
    }
  }
}

const SampleBatch* BatchLoader::next() {
  const int64_t B = options_.batch_size;
  if (options_.threads == 0) {
    if (consumed_ >= batches_) return nullptr;
    Slot& slot = slots_[0];
    slot.batch.index = consumed_;
    slot.batch.size = batch_size_of(consumed_);
    for (int64_t j = 0; j < slot.batch.size; ++j)
      if (std::exception_ptr e = fill_position(consumed_ * B + j, slot.batch)) std::rethrow_exception(e);
    ++consumed_;
    return &slot.batch;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  const int64_t R = static_cast<int64_t>(slots_.size());
  if (consumed_ > first_batch_) {  // the consumer is done with the previous batch
    slots_[static_cast<size_t>((consumed_ - 1) % R)].batch_index = -1;
    work_cv_.notify_all();
  }
  if (consumed_ >= batches_) return nullptr;
  Slot& slot = slots_[static_cast<size_t>(consumed_ % R)];
  ready_cv_.wait(lock, [&] { return slot.batch_index == consumed_ && slot.done == slot.batch.size; });
  if (slot.error) std::rethrow_exception(slot.error);
  ++consumed_;
  return &slot.batch;
}

int64_t BatchLoader::skipped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return skipped_;
}

std::vector<std::string> BatchLoader::skipped_names() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return skipped_names_;
}

}  // namespace ff::data
