// data/image/loader: batches identical for any number of threads, a mid-epoch resume that
// continues exactly, the last batch, errors reaching the consumer at their batch, and skipping
// unreadable samples deterministically.

#include <catch2/catch.hpp>
#include <atomic>
#include <set>
#include <thread>

#include "data/image/loader.h"
#include "kernels/common.h"

using namespace ff;
using namespace ff::data;

namespace {

// A sample's "image": 3 floats that depend only on (sample, epoch); its label is sample % 7.
// Samples in `bad` are unreadable. Uneven work so that threads finish out of order.
BatchLoader::Fill toy_fill(std::set<int64_t> bad = {}, std::atomic<int>* calls = nullptr) {
  return [bad, calls](int64_t sample, int64_t epoch, int64_t slot, SampleBatch& batch) {
    if (calls) ++*calls;
    if (bad.count(sample)) throw UserError(fmt::format("file-{}.jpg: truncated", sample));
    if (sample % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    float* x = batch.image(slot);
    for (int i = 0; i < 3; ++i) x[i] = static_cast<float>(sample * 100 + epoch * 10 + i);
    batch.labels[static_cast<size_t>(slot)] = sample % 7;
  };
}

struct Seen {
  std::vector<int64_t> sizes, samples, labels;
  std::vector<float> images;
  bool operator==(const Seen&) const = default;
};

Seen drain(BatchLoader& loader) {
  Seen s;
  while (const SampleBatch* b = loader.next()) {
    s.sizes.push_back(b->size);
    for (int64_t j = 0; j < b->size; ++j) {
      s.samples.push_back(b->samples[static_cast<size_t>(j)]);
      s.labels.push_back(b->labels[static_cast<size_t>(j)]);
      for (int i = 0; i < 3; ++i) s.images.push_back(b->images[static_cast<size_t>(j * 3 + i)]);
    }
  }
  return s;
}

std::vector<int64_t> shuffled(int64_t n) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = (i * 37 + 11) % n;  // a fixed permutation (37 prime to n)
  return order;
}

LoaderOptions options(int threads, int64_t prefetch = 2) {
  LoaderOptions o;
  o.batch_size = 8;
  o.sample_floats = 3;
  o.threads = threads;
  o.prefetch = prefetch;
  return o;
}

}  // namespace

TEST_CASE("loader: the batches are the same for 0, 1, 2 and 5 worker threads", "[data][loader]") {
  const std::vector<int64_t> order = shuffled(50);
  std::vector<Seen> runs;
  for (int threads : {0, 1, 2, 5}) {
    BatchLoader loader(options(threads, threads == 5 ? 3 : 2), toy_fill());
    loader.start_epoch(4, order);
    runs.push_back(drain(loader));
  }
  REQUIRE(runs[0].sizes == std::vector<int64_t>{8, 8, 8, 8, 8, 8, 2});  // 50 = 6 x 8 + 2
  CHECK(runs[0].samples == order);
  CHECK(runs[0].images[3 * 5 + 1] == static_cast<float>(order[5] * 100 + 40 + 1));
  CHECK(runs[0].labels[9] == order[9] % 7);
  for (size_t i = 1; i < runs.size(); ++i) CHECK(runs[i] == runs[0]);
}

TEST_CASE("loader: starting an epoch at batch k gives exactly the rest of the epoch", "[data][loader]") {
  const std::vector<int64_t> order = shuffled(50);
  BatchLoader full(options(2), toy_fill());
  full.start_epoch(1, order);
  const Seen all = drain(full);
  BatchLoader resumed(options(3), toy_fill());
  resumed.start_epoch(1, order, /*first_batch=*/4);
  CHECK(resumed.next_batch() == 4);
  const Seen tail = drain(resumed);
  CHECK(tail.sizes == std::vector<int64_t>{8, 8, 2});
  CHECK(tail.samples == std::vector<int64_t>(all.samples.begin() + 32, all.samples.end()));
  CHECK(tail.images == std::vector<float>(all.images.begin() + 32 * 3, all.images.end()));
  // A new epoch on the same loader: new values (epoch 2), the next order.
  resumed.start_epoch(2, shuffled(16));
  const Seen next = drain(resumed);
  CHECK(next.sizes == std::vector<int64_t>{8, 8});
  CHECK(next.images[0] == static_cast<float>(shuffled(16)[0] * 100 + 20));
  // Past the end is a data-position error.
  CHECK_THROWS_AS(resumed.start_epoch(2, shuffled(16), 3), UserError);
}

TEST_CASE("loader: drop_last drops the incomplete batch", "[data][loader]") {
  LoaderOptions o = options(2);
  o.drop_last = true;
  BatchLoader loader(o, toy_fill());
  loader.start_epoch(0, shuffled(50));
  CHECK(loader.batches_per_epoch() == 6);
  CHECK(drain(loader).sizes == std::vector<int64_t>(6, 8));
}

TEST_CASE("loader: an unreadable sample stops the epoch at its batch, naming it", "[data][loader]") {
  const std::vector<int64_t> order = shuffled(50);
  const int64_t bad = order[21];  // batch 2
  for (int threads : {0, 2}) {
    INFO(threads << " threads");
    BatchLoader loader(options(threads), toy_fill({bad}));
    loader.start_epoch(0, order);
    CHECK(loader.next()->index == 0);
    CHECK(loader.next()->index == 1);
    CHECK_THROWS_WITH(loader.next(), fmt::format("file-{}.jpg: truncated", bad));
  }
}

TEST_CASE("loader: with skip_unreadable the slot takes the next sample, the same for any thread count",
          "[data][loader]") {
  const std::vector<int64_t> order = shuffled(50);
  const std::set<int64_t> bad = {order[21], order[22], order[40]};
  std::vector<Seen> runs;
  for (int threads : {0, 3}) {
    LoaderOptions o = options(threads);
    o.skip_unreadable = true;
    BatchLoader loader(o, toy_fill(bad), [](int64_t s) { return fmt::format("file-{}.jpg", s); });
    loader.start_epoch(0, order);
    runs.push_back(drain(loader));
    CHECK(loader.skipped() == 3);
    std::vector<std::string> names = loader.skipped_names();
    std::sort(names.begin(), names.end());
    std::vector<std::string> expected;
    for (int64_t b : bad) expected.push_back(fmt::format("file-{}.jpg", b));
    std::sort(expected.begin(), expected.end());
    CHECK(names == expected);
  }
  CHECK(runs[1] == runs[0]);
  const Seen& s = runs[0];
  REQUIRE(s.samples.size() == 50);
  // Positions 21 and 22 (both bad) take order[23]; position 40 takes order[41].
  CHECK(s.samples[21] == order[23]);
  CHECK(s.samples[22] == order[23]);
  CHECK(s.samples[23] == order[23]);
  CHECK(s.samples[40] == order[41]);
}

TEST_CASE("loader: workers stay within the prefetch window", "[data][loader]") {
  std::atomic<int> calls{0};
  BatchLoader loader(options(4, /*prefetch=*/2), toy_fill({}, &calls));
  loader.start_epoch(0, shuffled(200));
  const SampleBatch* first = loader.next();
  REQUIRE(first != nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // The consumer holds batch 0; only batch 1 may be filled ahead: at most 16 samples.
  CHECK(calls.load() <= 16);
  CHECK(calls.load() >= 8);
  CHECK(first->samples[0] == shuffled(200)[0]);
}
