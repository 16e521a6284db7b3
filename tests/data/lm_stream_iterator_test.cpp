// Training/evaluation batches over a token stream: columns, shifts, epochs, resume, ranks.

#include "data/text/lm_stream_iterator.h"

#include <catch2/catch.hpp>
#include <numeric>
#include <set>
#include <vector>

#include "kernels/common.h"

using namespace ff::data;

namespace {
// Token i of the stream is i, so a batch shows exactly which stream positions it holds.
std::vector<int32_t> iota_stream(int n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}
LmStreamOptions opts(int64_t batch, int64_t tgt_len, int rank = 0, int world = 1) {
  LmStreamOptions o;
  o.batch_size = batch;
  o.tgt_len = tgt_len;
  o.rank = rank;
  o.world_size = world;
  return o;
}
}  // namespace

TEST_CASE("stream is cut into columns, remainder dropped, targets shifted by one", "[data]") {
  // 23 tokens, 2 columns of 11 (token 22 dropped), segments of 4: inputs at column offsets
  // 0-3, 4-7, then a short segment 8-9 (targets up to offset 10).
  const std::vector<int32_t> ids = iota_stream(23);
  LmStreamIterator it(ids, opts(2, 4));
  CHECK(it.column_length() == 11);
  CHECK(it.batches_per_epoch() == 3);
  LmBatch b;
  it.next(b);
  CHECK(b.rows == 2);
  CHECK(b.seq_len == 4);
  CHECK(b.inputs == std::vector<int32_t>{0, 1, 2, 3, 11, 12, 13, 14});
  CHECK(b.targets == std::vector<int32_t>{1, 2, 3, 4, 12, 13, 14, 15});
  CHECK_FALSE(b.last_in_epoch);
  it.next(b);
  CHECK(b.inputs == std::vector<int32_t>{4, 5, 6, 7, 15, 16, 17, 18});
  it.next(b);
  CHECK(b.seq_len == 2);
  CHECK(b.column_offset == 8);
  CHECK(b.inputs == std::vector<int32_t>{8, 9, 19, 20});
  CHECK(b.targets == std::vector<int32_t>{9, 10, 20, 21});
  CHECK(b.last_in_epoch);
  CHECK(b.epoch == 0);
  // The next epoch starts over.
  it.next(b);
  CHECK(b.epoch == 1);
  CHECK(b.index_in_epoch == 0);
  CHECK(b.inputs == std::vector<int32_t>{0, 1, 2, 3, 11, 12, 13, 14});
  CHECK(it.epoch() == 1);
  CHECK(it.position() == 4);
}

TEST_CASE("a segment length that divides the column leaves no short batch", "[data]") {
  const std::vector<int32_t> ids = iota_stream(9);  // 1 column of 9: 8 targets
  LmStreamIterator it(ids, opts(1, 4));
  CHECK(it.batches_per_epoch() == 2);
  LmBatch b;
  it.next(b);
  it.next(b);
  CHECK(b.seq_len == 4);
  CHECK(b.targets == std::vector<int32_t>{5, 6, 7, 8});
}

TEST_CASE("one epoch of batches scores every column target exactly once", "[data]") {
  for (int n : {2, 7, 50, 101}) {
    for (int64_t batch : {1, 2, 3}) {
      if (n / batch < 2) continue;
      for (int64_t tgt_len : {1, 3, 16}) {
        const std::vector<int32_t> ids = iota_stream(n);
        LmStreamIterator it(ids, opts(batch, tgt_len));
        std::multiset<int32_t> seen;
        LmBatch b;
        for (int64_t i = 0; i < it.batches_per_epoch(); ++i) {
          it.next(b);
          for (size_t k = 0; k < b.inputs.size(); ++k) {
            REQUIRE(b.targets[k] == b.inputs[k] + 1);
            seen.insert(b.targets[k]);
          }
        }
        INFO("n " << n << " batch " << batch << " tgt_len " << tgt_len);
        const int64_t c = n / batch;
        std::multiset<int32_t> expected;
        for (int64_t col = 0; col < batch; ++col)
          for (int64_t k = 1; k < c; ++k) expected.insert(static_cast<int32_t>(col * c + k));
        CHECK(seen == expected);
        CHECK(b.last_in_epoch);
      }
    }
  }
}

TEST_CASE("seek to a saved position resumes with identical batches", "[data]") {
  const std::vector<int32_t> ids = iota_stream(1000);
  LmStreamIterator a(ids, opts(4, 7));
  LmBatch b;
  for (int i = 0; i < 40; ++i) a.next(b);  // past the first epoch (249 / 7 -> 36 batches)
  const int64_t saved = a.position();
  CHECK(saved == 40);
  std::vector<LmBatch> expected(30);
  for (auto& e : expected) a.next(e);

  LmStreamIterator resumed(ids, opts(4, 7));
  resumed.seek(saved);
  CHECK(resumed.epoch() == 1);
  for (const auto& e : expected) {
    resumed.next(b);
    CHECK(b.inputs == e.inputs);
    CHECK(b.targets == e.targets);
    CHECK(b.seq_len == e.seq_len);
    CHECK(b.epoch == e.epoch);
  }
  CHECK_THROWS_AS(resumed.seek(-1), ff::UserError);
}

TEST_CASE("ranks hold contiguous column blocks that stack into the one-rank batch", "[data]") {
  const std::vector<int32_t> ids = iota_stream(997);
  LmStreamIterator whole(ids, opts(6, 10));
  LmStreamIterator r0(ids, opts(6, 10, 0, 2)), r1(ids, opts(6, 10, 1, 2));
  CHECK(r0.rows() == 3);
  CHECK(r1.batches_per_epoch() == whole.batches_per_epoch());
  LmBatch bw, b0, b1;
  for (int64_t i = 0; i < whole.batches_per_epoch() + 2; ++i) {
    whole.next(bw);
    r0.next(b0);
    r1.next(b1);
    REQUIRE(b0.seq_len == bw.seq_len);
    std::vector<int32_t> inputs = b0.inputs, targets = b0.targets;
    inputs.insert(inputs.end(), b1.inputs.begin(), b1.inputs.end());
    targets.insert(targets.end(), b1.targets.begin(), b1.targets.end());
    CHECK(inputs == bw.inputs);
    CHECK(targets == bw.targets);
  }
}

TEST_CASE("evaluation shares may be unequal: every column on exactly one rank", "[data]") {
  const std::vector<int32_t> ids = iota_stream(997);
  LmStreamIterator whole(ids, opts(5, 10));
  LmBatch bw;
  whole.next(bw);
  // 5 columns over 3 ranks: 1, 2 and 2 of them; 2 columns over 3 ranks: 0, 1 and 1.
  for (auto [batch, rows] : {std::pair<int64_t, std::vector<int64_t>>{5, {1, 2, 2}}, {2, {0, 1, 1}}}) {
    LmStreamIterator one(ids, opts(batch, 10));
    LmBatch b1;
    one.next(b1);
    std::vector<int32_t> stacked;
    for (int r = 0; r < 3; ++r) {
      LmStreamOptions o = opts(batch, 10, r, 3);
      o.equal_shares = false;
      LmStreamIterator it(ids, o);
      CHECK(it.rows() == rows[static_cast<size_t>(r)]);
      LmBatch b;
      it.next(b);
      CHECK(b.rows == rows[static_cast<size_t>(r)]);
      stacked.insert(stacked.end(), b.inputs.begin(), b.inputs.end());
    }
    CHECK(stacked == b1.inputs);
  }
}

TEST_CASE("bad iterator options are user errors stating the numbers", "[data]") {
  const std::vector<int32_t> ids = iota_stream(100);
  try {
    LmStreamIterator(ids, opts(6, 10, 0, 4));
    FAIL("no error");
  } catch (const ff::UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains("batch size 6") && Catch::Contains("world size 4"));
  }
  CHECK_THROWS_AS(LmStreamIterator(ids, opts(4, 10, 4, 4)), ff::UserError);
  CHECK_THROWS_AS(LmStreamIterator(ids, opts(4, 0)), ff::UserError);
  try {
    LmStreamOptions o = opts(60, 10);
    o.name = "valid split";
    LmStreamIterator(ids, o);
    FAIL("no error");
  } catch (const ff::UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains("valid split") && Catch::Contains("100 tokens") &&
                             Catch::Contains("at least 120"));
  }
}
