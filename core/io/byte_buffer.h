#pragma once
// Plain values and length-prefixed strings packed into a byte buffer and read back, in the
// host's (little-endian) byte order: the metadata blocks of the binary caches (the text corpus
// cache, the image folder's file list). A reader never reads past its buffer: every get
// returns false instead, which a cache reader reports as corruption.

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ff::io {

static_assert(std::endian::native == std::endian::little, "the binary caches are little-endian");

class ByteWriter {
 public:
  template <class T>
  void put(T v) {
    put_bytes(&v, sizeof(T));
  }
  void put_bytes(const void* data, size_t n) {
    const size_t at = bytes_.size();
    bytes_.resize(at + n);
    if (n > 0) std::memcpy(bytes_.data() + at, data, n);
  }
  // u32 length, then the bytes.
  void put_string(std::string_view s) {
    put(static_cast<uint32_t>(s.size()));
    put_bytes(s.data(), s.size());
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  template <class T>
  bool get(T& v) {
    return get_bytes(&v, sizeof(T));
  }
  bool get_bytes(void* data, size_t n) {
    if (bytes_.size() - at_ < n) return false;
    if (n > 0) std::memcpy(data, bytes_.data() + at_, n);
    at_ += n;
    return true;
  }
  bool get_string(std::string& s) {
    uint32_t n = 0;
    if (!get(n) || bytes_.size() - at_ < n) return false;
    s.resize(n);
    return get_bytes(s.data(), n);
  }
  size_t remaining() const { return bytes_.size() - at_; }
  bool at_end() const { return at_ == bytes_.size(); }

 private:
  std::span<const uint8_t> bytes_;
  size_t at_ = 0;
};

}  // namespace ff::io
