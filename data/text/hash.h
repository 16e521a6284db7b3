#pragma once
// The symbol table's hash of short strings (words). Not for adversarial input. Checksums of
// files and of the corpus cache are core/io/checksum.h (XXH3).

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
