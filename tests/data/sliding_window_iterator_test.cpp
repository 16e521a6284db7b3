// The paper's sliding-window evaluation: which positions are scored, batching, ranks.

#include "data/text/sliding_window_iterator.h"

#include <catch2/catch.hpp>
#include <map>
#include <numeric>
#include <vector>

#include "kernels/common.h"

using namespace ff::data;

namespace {
std::vector<int32_t> iota_stream(int n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}
LmWindowOptions opts(int64_t window_len, int64_t batch, int rank = 0, int world = 1) {
  LmWindowOptions o;
  o.window_len = window_len;
  o.batch_size = batch;
  o.rank = rank;
  o.world_size = world;
  return o;
}
// Stream index of every scored target, with multiplicity.
std::map<int32_t, int> scored_targets(LmWindowIterator& it) {
  std::map<int32_t, int> seen;
  LmWindowBatch b;
  while (it.next(b)) {
    for (int64_t r = 0; r < b.rows; ++r)
      for (int64_t p = b.score_begin[static_cast<size_t>(r)]; p < b.window_len; ++p)
        ++seen[b.targets[static_cast<size_t>(r * b.window_len + p)]];
  }
  return seen;
}
}  // namespace

TEST_CASE("sliding windows: the first scores all positions, later ones their last", "[data]") {
  // 7 tokens, L = 3: windows start at 0..3; targets 1-3 from window 0, then 4, 5, 6.
  const std::vector<int32_t> ids = iota_stream(7);
  LmWindowIterator it(ids, opts(3, 2));
  CHECK(it.total_windows() == 4);
  CHECK(it.scored_positions() == 6);
  LmWindowBatch b;
  REQUIRE(it.next(b));
  CHECK(b.rows == 2);
  CHECK(b.window_len == 3);
  CHECK(b.first_window == 0);
  CHECK(b.inputs == std::vector<int32_t>{0, 1, 2, 1, 2, 3});
  CHECK(b.targets == std::vector<int32_t>{1, 2, 3, 2, 3, 4});
  CHECK(b.score_begin == std::vector<int32_t>{0, 2});
  REQUIRE(it.next(b));
  CHECK(b.first_window == 2);
  CHECK(b.inputs == std::vector<int32_t>{2, 3, 4, 3, 4, 5});
  CHECK(b.targets == std::vector<int32_t>{3, 4, 5, 4, 5, 6});
  CHECK(b.score_begin == std::vector<int32_t>{2, 2});
  CHECK_FALSE(it.next(b));
  it.reset();
  REQUIRE(it.next(b));
  CHECK(b.first_window == 0);
}

TEST_CASE("sliding windows score every target of the split exactly once", "[data]") {
  for (int n : {2, 3, 5, 17, 64, 257}) {
    for (int64_t window : {1, 2, 4, 16, 300}) {
      for (int64_t batch : {1, 3, 8}) {
        const std::vector<int32_t> ids = iota_stream(n);
        LmWindowIterator it(ids, opts(window, batch));
        INFO("n " << n << " L " << window << " batch " << batch);
        const std::map<int32_t, int> seen = scored_targets(it);
        CHECK(it.scored_positions() == n - 1);
        REQUIRE(seen.size() == static_cast<size_t>(n - 1));
        CHECK(seen.begin()->first == 1);
        CHECK(seen.rbegin()->first == n - 1);
        for (const auto& [target, times] : seen) CHECK(times == 1);
      }
    }
  }
}

TEST_CASE("a window longer than the stream becomes one window over all of it", "[data]") {
  const std::vector<int32_t> ids = iota_stream(5);
  LmWindowIterator it(ids, opts(256, 4));
  CHECK(it.window_len() == 4);
  CHECK(it.total_windows() == 1);
  LmWindowBatch b;
  REQUIRE(it.next(b));
  CHECK(b.targets == std::vector<int32_t>{1, 2, 3, 4});
  CHECK(b.score_begin == std::vector<int32_t>{0});
}

TEST_CASE("ranks split the windows and together score every target once", "[data]") {
  const std::vector<int32_t> ids = iota_stream(101);
  std::map<int32_t, int> all;
  int64_t scored = 0, next_begin = 0;
  for (int rank = 0; rank < 3; ++rank) {
    LmWindowIterator it(ids, opts(8, 5, rank, 3));
    CHECK(it.windows_begin() == next_begin);
    next_begin = it.windows_end();
    scored += it.scored_positions();
    for (const auto& [t, k] : scored_targets(it)) all[t] += k;
  }
  CHECK(next_begin == 93);
  CHECK(scored == 100);
  CHECK(all.size() == 100);
  for (const auto& [t, k] : all) CHECK(k == 1);
}

TEST_CASE("bad window options are user errors", "[data]") {
  const std::vector<int32_t> one = iota_stream(1), ids = iota_stream(10);
  CHECK_THROWS_AS(LmWindowIterator(one, opts(4, 1)), ff::UserError);
  CHECK_THROWS_AS(LmWindowIterator(ids, opts(0, 1)), ff::UserError);
  CHECK_THROWS_AS(LmWindowIterator(ids, opts(4, 1, 2, 2)), ff::UserError);
}
