#pragma once
// Checksums of bytes and files: XXH3, 64-bit, seed 0 (xxHash, Debian's libxxhash), the value
// `xxhsum -H3 FILE` prints. It runs at memory speed and catches accidental damage (flipped
// bits, a truncated or swapped file); it is no defence against someone forging a file.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

struct XXH3_state_s;

namespace ff::io {

// The name checksum manifests record, so a reader can tell which function made a hash.
inline constexpr std::string_view kChecksumAlgorithm = "xxh3_64";

struct FileChecksum {
  uint64_t bytes = 0;
  uint64_t hash = 0;
  friend bool operator==(const FileChecksum&, const FileChecksum&) = default;
};

// A checksum over bytes that arrive in pieces; any split of the same bytes gives the same
// result, which equals checksum() of them all.
class Checksum {
 public:
  Checksum();
  void update(const void* data, size_t n);
  void update(std::span<const uint8_t> bytes) { update(bytes.data(), bytes.size()); }
  // Of everything so far; update may continue afterwards.
  FileChecksum result() const;

 private:
  struct StateDeleter {
    void operator()(XXH3_state_s* state) const;
  };
  std::unique_ptr<XXH3_state_s, StateDeleter> state_;
  uint64_t bytes_ = 0;
};

uint64_t checksum(const void* data, size_t n);
inline uint64_t checksum(std::span<const uint8_t> bytes) { return checksum(bytes.data(), bytes.size()); }
inline uint64_t checksum(std::string_view text) { return checksum(text.data(), text.size()); }

// Reads the file in chunks. ff::UserError naming the path when it is missing, not a regular
// file or unreadable.
FileChecksum checksum_file(const std::filesystem::path& path);

// 16 lowercase hex digits, most significant first, as xxhsum prints them.
std::string checksum_hex(uint64_t hash);
// The inverse; false unless `text` is exactly 16 hex digits.
bool parse_checksum_hex(std::string_view text, uint64_t* hash);

}  // namespace ff::io
