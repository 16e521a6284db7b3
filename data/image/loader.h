#pragma once
// Batches of samples prepared by worker threads ahead of the consumer (the trainer's step).
//
//   BatchLoader loader(options, fill);
//   loader.start_epoch(epoch, order, first_batch);   // order: this rank's sample indices
//   while (const SampleBatch* b = loader.next()) ...  // b->images (size, C, H, W), b->labels
//
// Batch k of an epoch holds the samples order[k*B .. k*B + B), slot j the sample order[k*B + j].
// `fill(sample, epoch, slot, batch)` writes one sample's image and label into its slot; it runs
// on any worker thread, and must depend only on (sample, epoch) — each sample's randomness is
// keyed by them — so the batches are the same for any number of
// threads, and a resume at batch k of an epoch continues exactly (start_epoch(epoch, order, k)).
//
// Memory: `prefetch` batch buffers are allocated once and reused; the consumer owns the batch
// next() returned until the following call to next(), after which its buffer is refilled.
//
// Errors: an ff::UserError thrown by fill (a corrupt or truncated file) stops the loader and is
// rethrown by next() when the consumer reaches that batch, unless skip_unreadable is set: then
// the slot is filled with the next sample of the epoch's order instead (deterministically), and
// the file is counted and remembered (skipped(), skipped_names()).

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ff::data {

struct SampleBatch {
  int64_t index = 0;             // the batch's index in its epoch
  int64_t size = 0;              // samples in it (the epoch's last batch may be smaller)
  std::vector<float> images;     // (capacity, sample_floats): a sample's floats in its slot
  std::vector<int64_t> labels;   // (capacity)
  std::vector<int64_t> samples;  // (capacity): the sample index each slot holds
  float* image(int64_t slot) { return images.data() + slot * sample_floats; }
  int64_t sample_floats = 0;
};

struct LoaderOptions {
  int64_t batch_size = 1;
  int64_t sample_floats = 0;  // floats of one sample's image, e.g. C * H * W
  int threads = 0;            // worker threads; 0: fill on the consumer's thread, in next()
  int64_t prefetch = 2;       // batch buffers (>= 1); workers run up to this far ahead
  bool drop_last = false;     // drop an epoch's last, incomplete batch
  bool skip_unreadable = false;
};

class BatchLoader {
 public:
  // Throws ff::UserError naming the sample (its `name`) when a substitute cannot be found.
  using Fill = std::function<void(int64_t sample, int64_t epoch, int64_t slot, SampleBatch& batch)>;
  using Name = std::function<std::string(int64_t sample)>;  // for logs: the file of a sample
  BatchLoader(LoaderOptions options, Fill fill, Name name = {});
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts (or restarts) an epoch at batch first_batch of `order`; cancels what was in flight.
  void start_epoch(int64_t epoch, std::vector<int64_t> order, int64_t first_batch = 0);
  // The next batch, or nullptr at the end of the epoch. Rethrows a fill error of this batch.
  const SampleBatch* next();

  int64_t batches_per_epoch() const { return batches_; }
  int64_t next_batch() const { return consumed_; }  // the batch next() returns next (for resuming)
  int64_t epoch() const { return epoch_; }
  int64_t skipped() const;
  std::vector<std::string> skipped_names() const;

 private:
  struct Slot {
    SampleBatch batch;
    int64_t batch_index = -1;  // which batch this buffer is being filled with, -1: free
    int64_t done = 0;          // samples filled
    std::exception_ptr error;
  };
  void worker();
  void stop_workers();
  int64_t batch_size_of(int64_t batch) const;
  // Fills one position of the epoch (with substitutes when skipping); returns an error to report.
  std::exception_ptr fill_position(int64_t position, SampleBatch& batch);

  LoaderOptions options_;
  Fill fill_;
  Name name_;

  std::vector<int64_t> order_;
  int64_t epoch_ = 0, batches_ = 0, first_batch_ = 0;
  int64_t consumed_ = 0;     // next batch the consumer takes
  int64_t next_position_ = 0;  // next sample position a worker takes (from first_batch * B)
  std::vector<Slot> slots_;
  bool stop_ = false;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  std::vector<std::thread> threads_;
  int64_t skipped_ = 0;
  std::vector<std::string> skipped_names_;
};

}  // namespace ff::data
