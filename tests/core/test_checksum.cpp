// core/io/checksum.h: XXH3-64 values as `xxhsum -H3` (Debian's xxhash 0.8.1) prints them, in one
// piece, streamed in uneven pieces and from a file, and the sizes and hashes the atomic writers
// report for what they wrote.

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/io/atomic_file.h"
#include "core/io/checksum.h"
#include "core/io/safetensors.h"
#include "data/temp_dir.h"
#include "kernels/common.h"

using namespace ff;
using ff::data::testing::TempDir;
using ff::data::testing::write_file;
using Catch::Matchers::Contains;

namespace {

// (1 << 20) + 13 bytes, byte i = i % 251: long enough for XXH3's block loop, not a whole
// number of its blocks or of our file chunks.
std::string long_input() {
  std::string bytes((size_t{1} << 20) + 13, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i % 251);
  return bytes;
}

struct KnownValue {
  std::string input;
  std::string hex;  // xxhsum -H3
};

std::vector<KnownValue> known_values() {
  return {{"", "2d06800538d394c2"},  // also xxHash's own sanity-test vector for XXH3_64bits("")
          {"abc", "78af5f94892f3950"},
          {"The quick brown fox jumps over the lazy dog", "ce7d19a5418fb365"},
          {long_input(), "a9ff1737494f39c6"}};
}

}  // namespace

TEST_CASE("checksum: XXH3-64 of known inputs is what xxhsum -H3 prints", "[checksum]") {
  CHECK(io::kChecksumAlgorithm == "xxh3_64");
  for (const KnownValue& known : known_values()) {
    INFO(known.input.size() << " bytes");
    CHECK(io::checksum_hex(io::checksum(known.input)) == known.hex);
  }
}

TEST_CASE("checksum: streamed in uneven pieces or read from a file, the value is the same", "[checksum]") {
  TempDir dir;
  for (const KnownValue& known : known_values()) {
    INFO(known.input.size() << " bytes");
    uint64_t expected = 0;
    REQUIRE(io::parse_checksum_hex(known.hex, &expected));
    io::Checksum sum;
    size_t at = 0;
    for (size_t piece = 1; at < known.input.size(); piece = piece * 3 + 1) {
      const size_t n = std::min(piece, known.input.size() - at);
      sum.update(known.input.data() + at, n);
      at += n;
    }
    CHECK(sum.result() == io::FileChecksum{.bytes = known.input.size(), .hash = expected});
    write_file(dir / "input", known.input);
    CHECK(io::checksum_file(dir / "input") == io::FileChecksum{.bytes = known.input.size(), .hash = expected});
  }
  // result() does not end the stream.
  io::Checksum sum;
  sum.update("ab", 2);
  CHECK(io::checksum_hex(sum.result().hash) != "78af5f94892f3950");
  sum.update("c", 1);
  CHECK(io::checksum_hex(sum.result().hash) == "78af5f94892f3950");
}

TEST_CASE("checksum: hex is 16 lowercase digits with leading zeros and parses back", "[checksum]") {
  CHECK(io::checksum_hex(0xab) == "00000000000000ab");
  CHECK(io::checksum_hex(0xfedcba9876543210ull) == "fedcba9876543210");
  uint64_t hash = 0;
  CHECK(io::parse_checksum_hex("00000000000000AB", &hash));
  CHECK(hash == 0xab);
  CHECK(io::parse_checksum_hex("fedcba9876543210", &hash));
  CHECK(hash == 0xfedcba9876543210ull);
  for (const char* bad : {"", "abc", "000000000000000ab", "00000000000000a", "0x000000000000ab", "00000000000000ag",
                          "-0000000000000ab", "+0000000000000ab"}) {
    INFO(bad);
    CHECK_FALSE(io::parse_checksum_hex(bad, &hash));
  }
}

TEST_CASE("checksum: a file that cannot be read is a user error naming it", "[checksum]") {
  TempDir dir;
  const std::filesystem::path missing = dir / "missing";
  CHECK_THROWS_AS(io::checksum_file(missing), UserError);
  CHECK_THROWS_WITH(io::checksum_file(missing), "cannot open '" + missing.string() + "': No such file or directory");
  CHECK_THROWS_AS(io::checksum_file(dir.path()), UserError);
  CHECK_THROWS_WITH(io::checksum_file(dir.path()), "'" + dir.path().string() + "' is not a regular file");
}

TEST_CASE("checksum: atomic writes and safetensors return the size and checksum of the bytes they wrote",
          "[checksum]") {
  TempDir dir;
  const std::string text = "abc";
  const io::FileChecksum written = io::write_file_atomic(
      dir / "abc.txt", std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  CHECK(written.bytes == 3);
  CHECK(io::checksum_hex(written.hash) == "78af5f94892f3950");

  // Through the stream writer, in pieces larger and smaller than its 64 KiB buffer.
  const std::string big = long_input();
  const io::FileChecksum streamed = io::write_file_atomic(dir / "big.bin", [&](std::ostream& out) {
    out.write(big.data(), 100);
    out.put(big[100]);
    out.write(big.data() + 101, static_cast<std::streamsize>(big.size() - 101));
  });
  CHECK(streamed.bytes == big.size());
  CHECK(io::checksum_hex(streamed.hash) == "a9ff1737494f39c6");

  std::vector<io::TensorRecord> records = {{"w", DType::F32, {2}, std::vector<uint8_t>(8, 7)}};
  const io::FileChecksum saved = io::save_safetensors(dir / "t.safetensors", records);
  CHECK(saved == io::checksum_file(dir / "t.safetensors"));
  CHECK(saved.bytes == std::filesystem::file_size(dir / "t.safetensors"));

  // load_safetensors feeds every byte it reads: the whole file.
  io::Checksum read;
  io::load_safetensors(dir / "t.safetensors", &read);
  CHECK(read.result() == saved);
}
