#include "data/image/samplers.h"

#include <numeric>

#include "data/image/sample_rng.h"
#include "kernels/common.h"

namespace ff::data {

void shuffled_indices(int64_t n, uint64_t seed, int64_t epoch, std::vector<int64_t>& out) {
  FF_CHECK(epoch >= 0, "shuffle: negative epoch {}", epoch);
  out.resize(static_cast<size_t>(n));
  std::iota(out.begin(), out.end(), int64_t{0});
  SampleRng rng(seed, static_cast<uint64_t>(epoch), 0, 0, RngStream::kShuffle);
  for (int64_t i = n - 1; i > 0; --i) std::swap(out[static_cast<size_t>(i)], out[static_cast<size_t>(rng.randint(0, i))]);
}

namespace {
void check_rank(int64_t rank, int64_t world) {
  FF_CHECK(rank >= 0 && rank < world, "sampler: rank {} outside [0, {})", rank, world);
}
}  // namespace

// ---- repeated augmentation

RepeatedAugSampler::RepeatedAugSampler(int64_t dataset_size, int64_t world_size, uint64_t seed,
                                       RepeatedAugSamplerConfig cfg)
    : n_(dataset_size), world_(world_size), seed_(seed), cfg_(cfg) {
  FF_USER_CHECK(n_ > 0, "repeated augmentation sampler: the dataset is empty");
  FF_USER_CHECK(world_ > 0, "repeated augmentation sampler: world size must be >= 1, got {}", world_);
  FF_USER_CHECK(cfg_.repeats >= 1, "repeated augmentation sampler: repeats must be >= 1, got {}", cfg_.repeats);
  FF_USER_CHECK(cfg_.round_down_to >= 1, "repeated augmentation sampler: round_down_to must be >= 1, got {}",
                cfg_.round_down_to);
  const int64_t repeated = n_ * cfg_.repeats;
  total_ = (repeated + world_ - 1) / world_ * world_;  // ceil(n * repeats / W) * W
  selected_ = n_ / cfg_.round_down_to * cfg_.round_down_to / world_;
  FF_USER_CHECK(selected_ > 0,
                "repeated augmentation sampler: {} samples rounded down to a multiple of {} leave none for each of "
                "{} ranks",
                n_, cfg_.round_down_to, world_);
}

void RepeatedAugSampler::order(int64_t epoch, std::vector<int64_t>& perm) const {
  if (cfg_.shuffle) {
    shuffled_indices(n_, seed_, epoch, perm);
  } else {
    perm.resize(static_cast<size_t>(n_));
    std::iota(perm.begin(), perm.end(), int64_t{0});
  }
}

// Position p of the padded order: the repeated list wraps around for the padding, and every
// pass over it adds `repeats` to the copy number.
SampleRef RepeatedAugSampler::at(const std::vector<int64_t>& perm, int64_t position) const {
  const int64_t repeated = n_ * cfg_.repeats;
  const int64_t pass = position / repeated;
  const int64_t j = position % repeated;
  return SampleRef{perm[static_cast<size_t>(j / cfg_.repeats)],
                   static_cast<uint32_t>(j % cfg_.repeats + pass * cfg_.repeats)};
}

void RepeatedAugSampler::epoch_order(int64_t epoch, std::vector<SampleRef>& out) const {
  std::vector<int64_t> perm;
  order(epoch, perm);
  out.resize(static_cast<size_t>(total_));
  for (int64_t p = 0; p < total_; ++p) out[static_cast<size_t>(p)] = at(perm, p);
}

void RepeatedAugSampler::rank_samples(int64_t epoch, int64_t rank, std::vector<SampleRef>& out) const {
  check_rank(rank, world_);
  std::vector<int64_t> perm;
  order(epoch, perm);
  out.resize(static_cast<size_t>(selected_));
  for (int64_t k = 0; k < selected_; ++k) out[static_cast<size_t>(k)] = at(perm, rank + k * world_);
}

std::vector<SampleRef> RepeatedAugSampler::rank_samples(int64_t epoch, int64_t rank) const {
  std::vector<SampleRef> out;
  rank_samples(epoch, rank, out);
  return out;
}

// ---- plain shuffle

ShuffledSampler::ShuffledSampler(int64_t dataset_size, int64_t world_size, uint64_t seed, bool shuffle)
    : n_(dataset_size), world_(world_size), seed_(seed), shuffle_(shuffle) {
  FF_USER_CHECK(n_ > 0, "shuffled sampler: the dataset is empty");
  FF_USER_CHECK(world_ > 0, "shuffled sampler: world size must be >= 1, got {}", world_);
  per_rank_ = (n_ + world_ - 1) / world_;
}

void ShuffledSampler::rank_samples(int64_t epoch, int64_t rank, std::vector<SampleRef>& out) const {
  check_rank(rank, world_);
  std::vector<int64_t> perm;
  if (shuffle_) {
    shuffled_indices(n_, seed_, epoch, perm);
  } else {
    perm.resize(static_cast<size_t>(n_));
    std::iota(perm.begin(), perm.end(), int64_t{0});
  }
  out.resize(static_cast<size_t>(per_rank_));
  for (int64_t k = 0; k < per_rank_; ++k) {
    const int64_t p = rank + k * world_;
    out[static_cast<size_t>(k)] = SampleRef{perm[static_cast<size_t>(p % n_)], static_cast<uint32_t>(p / n_)};
  }
}

std::vector<SampleRef> ShuffledSampler::rank_samples(int64_t epoch, int64_t rank) const {
  std::vector<SampleRef> out;
  rank_samples(epoch, rank, out);
  return out;
}

// ---- sequential

SequentialSampler::SequentialSampler(int64_t dataset_size, int64_t world_size) : n_(dataset_size), world_(world_size) {
  FF_USER_CHECK(n_ >= 0, "sequential sampler: negative dataset size {}", n_);
  FF_USER_CHECK(world_ > 0, "sequential sampler: world size must be >= 1, got {}", world_);
}

int64_t SequentialSampler::samples_for_rank(int64_t rank) const {
  check_rank(rank, world_);
  return rank < n_ ? (n_ - rank + world_ - 1) / world_ : 0;
}

void SequentialSampler::rank_samples(int64_t rank, std::vector<SampleRef>& out) const {
  const int64_t count = samples_for_rank(rank);
  out.resize(static_cast<size_t>(count));
  for (int64_t k = 0; k < count; ++k) out[static_cast<size_t>(k)] = SampleRef{rank + k * world_, 0};
}

std::vector<SampleRef> SequentialSampler::rank_samples(int64_t rank) const {
  std::vector<SampleRef> out;
  rank_samples(rank, out);
  return out;
}

}  // namespace ff::data
