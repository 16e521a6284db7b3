// DeiT's repeated-augmentation sampler, the plain shuffle and the evaluation order
// (data/image/samplers.h).

#include "data/image/samplers.h"

#include <catch2/catch.hpp>
#include <map>
#include <algorithm>
#include <vector>

#include "kernels/common.h"

using namespace ff::data;

TEST_CASE("repeated augmentation: every index 3 times in a row before the ranks take their share", "[data][image]") {
  const int64_t n = 1000;
  for (const int64_t world : {1, 2, 4}) {
    INFO("world " << world);
    const RepeatedAugSampler sampler(n, world, 42);
    // DeiT's sizes: total = ceil(3 n / W) W, per rank floor(n // 256 * 256 / W).
    CHECK(sampler.total_size() == (3 * n + world - 1) / world * world);
    CHECK(sampler.samples_per_rank() == 768 / world);
    std::vector<SampleRef> order;
    sampler.epoch_order(5, order);
    REQUIRE(static_cast<int64_t>(order.size()) == sampler.total_size());
    // The first 3n entries: each index exactly 3 times, as copies 0, 1, 2 next to each other.
    std::map<int64_t, int> counts;
    for (int64_t p = 0; p < 3 * n; ++p) {
      ++counts[order[static_cast<size_t>(p)].index];
      CHECK(order[static_cast<size_t>(p)].repeat == static_cast<uint32_t>(p % 3));
      if (p % 3 != 0) CHECK(order[static_cast<size_t>(p)].index == order[static_cast<size_t>(p - 1)].index);
    }
    CHECK(counts.size() == static_cast<size_t>(n));
    for (const auto& [index, k] : counts) CHECK(k == 3);
    // Padding repeats the head with new copy numbers (3000 is a multiple of 1, 2, 4: none here).
    CHECK(sampler.total_size() == 3 * n);
    // Rank r takes positions r, r + W, ...: disjoint positions that cover the first W * per_rank.
    std::vector<int> taken(static_cast<size_t>(sampler.total_size()), 0);
    for (int64_t r = 0; r < world; ++r) {
      const std::vector<SampleRef> mine = sampler.rank_samples(5, r);
      REQUIRE(static_cast<int64_t>(mine.size()) == sampler.samples_per_rank());
      for (int64_t k = 0; k < static_cast<int64_t>(mine.size()); ++k) {
        const int64_t position = r + k * world;
        REQUIRE(mine[static_cast<size_t>(k)] == order[static_cast<size_t>(position)]);
        ++taken[static_cast<size_t>(position)];
      }
    }
    for (int64_t p = 0; p < sampler.total_size(); ++p) {
      CHECK(taken[static_cast<size_t>(p)] == (p < world * sampler.samples_per_rank() ? 1 : 0));
    }
    // With 4 ranks the 3 copies of an index land on 3 different ranks.
    if (world == 4) {
      for (int64_t r = 0; r < world; ++r) {
        std::map<int64_t, int> per_index;
        for (const SampleRef& s : sampler.rank_samples(5, r)) ++per_index[s.index];
        for (const auto& [index, k] : per_index) CHECK(k == 1);  // never two copies on one rank
      }
    }
  }
}

TEST_CASE("repeated augmentation: padding, determinism per epoch, different epochs and seeds", "[data][image]") {
  // n = 301, W = 4: 903 -> total 904, one padding entry: the head's first index again, copy 3.
  const RepeatedAugSampler sampler(301, 4, 7, RepeatedAugSamplerConfig{3, 1, true});
  CHECK(sampler.total_size() == 904);
  CHECK(sampler.samples_per_rank() == 75);  // floor(301 / 4) with round_down_to 1
  std::vector<SampleRef> order;
  sampler.epoch_order(0, order);
  CHECK(order[903].index == order[0].index);
  CHECK(order[903].repeat == 3);
  // DeiT's default rounding: 301 // 256 * 256 = 256 -> 64 per rank.
  CHECK(RepeatedAugSampler(301, 4, 7).samples_per_rank() == 64);
  // Same (seed, epoch): same lists; another epoch or seed: another order.
  CHECK(sampler.rank_samples(3, 1) == RepeatedAugSampler(301, 4, 7, {3, 1, true}).rank_samples(3, 1));
  CHECK(sampler.rank_samples(3, 1) != sampler.rank_samples(4, 1));
  CHECK(sampler.rank_samples(3, 1) != RepeatedAugSampler(301, 4, 8, {3, 1, true}).rank_samples(3, 1));
  // No shuffle: 0, 0, 0, 1, 1, 1, ... dealt to ranks.
  const RepeatedAugSampler plain(10, 2, 7, RepeatedAugSamplerConfig{3, 1, false});
  const std::vector<SampleRef> r0 = plain.rank_samples(0, 0);
  CHECK(r0 == std::vector<SampleRef>{{0, 0}, {0, 2}, {1, 1}, {2, 0}, {2, 2}});
  CHECK_THROWS_AS(RepeatedAugSampler(200, 1, 0), ff::UserError);  // 200 // 256 * 256 = 0
  CHECK_THROWS_WITH(RepeatedAugSampler(0, 1, 0), Catch::Contains("empty"));
}

TEST_CASE("shuffled sampler: DistributedSampler's split, a permutation per epoch", "[data][image]") {
  const int64_t n = 103;
  for (const int64_t world : {1, 2, 4}) {
    INFO("world " << world);
    const ShuffledSampler sampler(n, world, 3);
    CHECK(sampler.samples_per_rank() == (n + world - 1) / world);
    std::map<int64_t, int> counts;
    int padding = 0;
    for (int64_t r = 0; r < world; ++r) {
      for (const SampleRef& s : sampler.rank_samples(2, r)) {
        ++counts[s.index];
        padding += s.repeat == 1;
      }
    }
    CHECK(counts.size() == static_cast<size_t>(n));  // every index at least once
    CHECK(padding == sampler.samples_per_rank() * world - n);
    CHECK(sampler.rank_samples(2, 0) == ShuffledSampler(n, world, 3).rank_samples(2, 0));
    CHECK(sampler.rank_samples(2, 0) != sampler.rank_samples(3, 0));
  }
  CHECK(ShuffledSampler(5, 2, 3, false).rank_samples(0, 1) == std::vector<SampleRef>{{1, 0}, {3, 0}, {0, 1}});
}

TEST_CASE("sequential sampler: strided, no padding, every index once over the ranks", "[data][image]") {
  CHECK(SequentialSampler(10, 1).rank_samples(0).size() == 10);
  const SequentialSampler s(10, 4);
  CHECK(s.rank_samples(0) == std::vector<SampleRef>{{0, 0}, {4, 0}, {8, 0}});
  CHECK(s.rank_samples(3) == std::vector<SampleRef>{{3, 0}, {7, 0}});
  int64_t total = 0;
  for (int64_t r = 0; r < 4; ++r) total += s.samples_for_rank(r);
  CHECK(total == 10);
  CHECK(SequentialSampler(2, 4).samples_for_rank(3) == 0);
}

TEST_CASE("the epoch shuffle is a uniform permutation", "[data][image]") {
  std::vector<int64_t> perm;
  // Position of element 0 over many epochs of a 5-permutation: uniform over 5 places.
  std::map<int64_t, int> where;
  for (int64_t epoch = 0; epoch < 5000; ++epoch) {
    shuffled_indices(5, 9, epoch, perm);
    std::vector<int64_t> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    REQUIRE(sorted == std::vector<int64_t>{0, 1, 2, 3, 4});
    ++where[std::find(perm.begin(), perm.end(), 0) - perm.begin()];
  }
  for (const auto& [pos, k] : where) CHECK(std::abs(k - 1000) < 150);
}
