#pragma once
// Which samples each rank reads in an epoch. Every sampler gives rank r of W its own list
// of SampleRef (dataset index + which copy of it this is), computed from (seed, epoch) alone,
// so a data-parallel run only passes its rank and world size, and a resumed run recomputes
// the same lists. Shuffles are Fisher-Yates over the Philox stream RngStream::kShuffle of
// (seed, epoch) (data/image/sample_rng.h), not torch.randperm: the orders differ from
// PyTorch's, the distributions do not.

#include <cstdint>
#include <vector>

namespace ff::data {

// One draw of the data pipeline. `repeat` numbers the copies of an index within an epoch (0,
// 1, 2 under 3 repeats; padding copies continue the count) and goes into the sample's
// SampleRng, so each copy is augmented differently.
struct SampleRef {
  int64_t index = 0;
  uint32_t repeat = 0;
  bool operator==(const SampleRef&) const = default;
};

// A uniformly random permutation of [0, n) for (seed, epoch): Fisher-Yates from the back.
void shuffled_indices(int64_t n, uint64_t seed, int64_t epoch, std::vector<int64_t>& out);

struct RepeatedAugSamplerConfig {
  int64_t repeats = 3;         // DeiT's num_repeats
  int64_t round_down_to = 256;  // the dataset size is rounded down to a multiple of this first
  bool shuffle = true;
};

// DeiT's RASampler (deit/samplers.py): the epoch's order is a shuffle of the indices with
// each index repeated `repeats` times in a row, padded from its head to total_size =
// ceil(repeats * n / W) * W; rank r takes positions r, r + W, r + 2W, ... and keeps the first
// floor(n // round_down_to * round_down_to / W). So each copy of an index goes to a different
// rank when W >= repeats, and an epoch visits about n samples in all, not repeats * n.
class RepeatedAugSampler {
 public:
  // ff::UserError when the sizes are not positive or leave no sample per rank.
  RepeatedAugSampler(int64_t dataset_size, int64_t world_size, uint64_t seed, RepeatedAugSamplerConfig cfg = {});

  int64_t dataset_size() const { return n_; }
  int64_t world_size() const { return world_; }
  int64_t total_size() const { return total_; }  // the padded order's length
  int64_t samples_per_rank() const { return selected_; }

  // The whole padded order before it is dealt to ranks (total_size entries).
  void epoch_order(int64_t epoch, std::vector<SampleRef>& out) const;
  // Rank `rank`'s samples_per_rank() samples, in order.
  void rank_samples(int64_t epoch, int64_t rank, std::vector<SampleRef>& out) const;
  std::vector<SampleRef> rank_samples(int64_t epoch, int64_t rank) const;

 private:
  SampleRef at(const std::vector<int64_t>& perm, int64_t position) const;
  void order(int64_t epoch, std::vector<int64_t>& perm) const;

  int64_t n_, world_;
  uint64_t seed_;
  RepeatedAugSamplerConfig cfg_;
  int64_t total_, selected_;
};

// torch's DistributedSampler(shuffle, drop_last=False): one shuffle (or the identity) padded
// from its head to ceil(n / W) * W entries (padding copies have repeat 1), rank r taking
// positions r, r + W, ... Every rank gets ceil(n / W) samples.
class ShuffledSampler {
 public:
  ShuffledSampler(int64_t dataset_size, int64_t world_size, uint64_t seed, bool shuffle = true);
  int64_t samples_per_rank() const { return per_rank_; }
  void rank_samples(int64_t epoch, int64_t rank, std::vector<SampleRef>& out) const;
  std::vector<SampleRef> rank_samples(int64_t epoch, int64_t rank) const;

 private:
  int64_t n_, world_;
  uint64_t seed_;
  bool shuffle_;
  int64_t per_rank_;
};

// Evaluation: rank r reads r, r + W, r + 2W, ... < n, with no padding, so the ranks together
// see every sample exactly once (rank r gets ceil((n - r) / W) of them).
class SequentialSampler {
 public:
  SequentialSampler(int64_t dataset_size, int64_t world_size);
  int64_t samples_for_rank(int64_t rank) const;
  void rank_samples(int64_t rank, std::vector<SampleRef>& out) const;
  std::vector<SampleRef> rank_samples(int64_t rank) const;

 private:
  int64_t n_, world_;
};

}  // namespace ff::data
