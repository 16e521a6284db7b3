#pragma once
// Fast non-cryptographic 64-bit hashing for the text pipeline: a streaming hasher for file
// contents and cache checksums (several GB/s, same result however the input is chunked), and a
// short-string hash for the symbol table. Not for adversarial input.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ff::data {

namespace hash_detail {
inline constexpr uint64_t kK0 = 0x9e3779b97f4a7c15ull;  // 2^64 / golden ratio
inline constexpr uint64_t kK1 = 0xbf58476d1ce4e5b9ull;  // splitmix64 multipliers
inline constexpr uint64_t kK2 = 0x94d049bb133111ebull;
inline constexpr uint64_t kK3 = 0xd6e8feb86659fd93ull;

// 64x64 -> 128-bit product folded to 64 bits: every input bit reaches most output bits.
inline uint64_t fold_mul(uint64_t a, uint64_t b) {
  const __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}
inline uint64_t load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t load32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
}  // namespace hash_detail

// Streaming hash: update() any number of times with any chunk sizes, then finish().
// Consumes 32-byte blocks in two independent lanes, so long inputs hash at memory speed.
class StreamHash {
 public:
  explicit StreamHash(uint64_t seed = 0) : lane0_(seed ^ hash_detail::kK0), lane1_(seed ^ hash_detail::kK3) {}

  void update(const void* data, size_t n) {
    auto* p = static_cast<const unsigned char*>(data);
    total_ += n;
    if (pending_ > 0) {
      const size_t take = n < kBlock - pending_ ? n : kBlock - pending_;
      std::memcpy(buffer_ + pending_, p, take);
      pending_ += take;
      p += take;
      n -= take;
      if (pending_ < kBlock) return;
      block(buffer_);
      pending_ = 0;
    }
    for (; n >= kBlock; p += kBlock, n -= kBlock) block(p);
    std::memcpy(buffer_, p, n);
    pending_ = n;
  }

  uint64_t finish() const {
    using namespace hash_detail;
    unsigned char tail[kBlock] = {};
    std::memcpy(tail, buffer_, pending_);
    uint64_t a = lane0_, b = lane1_;
    a = fold_mul(load64(tail) ^ kK1 ^ a, load64(tail + 8) ^ kK2);
    b = fold_mul(load64(tail + 16) ^ kK2 ^ b, load64(tail + 24) ^ kK1);
    const uint64_t h = fold_mul(a ^ kK3, b ^ (total_ * kK0));
    return fold_mul(h ^ kK1, total_ ^ kK2);
  }

 private:
  static constexpr size_t kBlock = 32;
  void block(const unsigned char* p) {
    using namespace hash_detail;
    lane0_ = fold_mul(load64(p) ^ kK1 ^ lane0_, load64(p + 8) ^ kK2);
    lane1_ = fold_mul(load64(p + 16) ^ kK2 ^ lane1_, load64(p + 24) ^ kK1);
  }
  uint64_t lane0_, lane1_;
  uint64_t total_ = 0;
  unsigned char buffer_[kBlock] = {};
  size_t pending_ = 0;
};

inline uint64_t hash_bytes(const void* data, size_t n, uint64_t seed = 0) {
  StreamHash h(seed);
  h.update(data, n);
  return h.finish();
}

// Hash of a short string (a word): a few multiplies, no loop for words up to 16 bytes.
inline uint64_t hash_symbol(std::string_view s) {
  using namespace hash_detail;
  auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  uint64_t h = kK0 ^ (n * kK3);
  for (; n > 16; p += 16, n -= 16) h = fold_mul(load64(p) ^ kK1 ^ h, load64(p + 8) ^ kK2);
  uint64_t a = 0, b = 0;
  if (n >= 8) {
    a = load64(p);
    b = load64(p + n - 8);
  } else if (n >= 4) {
    a = load32(p);
    b = load32(p + n - 4);
  } else if (n > 0) {
    a = (uint64_t{p[0]} << 16) | (uint64_t{p[n >> 1]} << 8) | p[n - 1];
  }
  return fold_mul(a ^ kK1 ^ h, b ^ kK2 ^ n);
}

}  // namespace ff::data
