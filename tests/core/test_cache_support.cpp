// What the data caches share (core/io/user_cache.h, core/io/byte_buffer.h): the per-user cache
// location and the metadata byte buffers.

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/io/byte_buffer.h"
#include "core/io/user_cache.h"

using namespace ff;
namespace fs = std::filesystem;

namespace {

// Sets (or, with nullopt, unsets) an environment variable for the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? ::setenv(name, value->c_str(), 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("user cache: XDG_CACHE_HOME, else HOME/.cache, else none, named by the path's XXH3", "[core][io]") {
  // `printf / | xxhsum -H3` prints 474292953285562e.
  {
    ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    ScopedEnv home("HOME", "/home/u");
    CHECK(io::user_cache_file("corpora", "/") == fs::path("/xdg/fourierformer/corpora/474292953285562e.bin"));
  }
  {
    ScopedEnv xdg("XDG_CACHE_HOME", "");
    ScopedEnv home("HOME", "/home/u");
    CHECK(io::user_cache_file("image-folders", "/") ==
          fs::path("/home/u/.cache/fourierformer/image-folders/474292953285562e.bin"));
  }
  {
    ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt);
    ScopedEnv home("HOME", std::nullopt);
    CHECK(io::user_cache_file("corpora", "/").empty());
    CHECK(io::cache_locations("", "/data", "c.bin", "corpora") == std::vector<fs::path>{"/data/c.bin"});
  }
}

TEST_CASE("user cache: an explicit path is the only location, else the directory then the user's", "[core][io]") {
  ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
  CHECK(io::cache_locations("/tmp/mine.bin", "/data", "c.bin", "corpora") == std::vector<fs::path>{"/tmp/mine.bin"});
  CHECK(io::cache_locations("", "/", "c.bin", "corpora") ==
        std::vector<fs::path>{"/c.bin", "/xdg/fourierformer/corpora/474292953285562e.bin"});
}

TEST_CASE("byte buffer: values and strings read back in order, reading past the end fails", "[core][io]") {
  io::ByteWriter w;
  w.put(uint64_t{0x0102030405060708});
  w.put_string("abc");
  w.put(int32_t{-5});
  const uint8_t raw[2] = {9, 8};
  w.put_bytes(raw, 2);
  // Little-endian, the string as u32 length + bytes.
  CHECK(w.bytes() == std::vector<uint8_t>{8, 7, 6, 5, 4, 3, 2, 1, 3, 0, 0, 0, 'a', 'b', 'c', 0xFB, 0xFF, 0xFF, 0xFF, 9, 8});

  io::ByteReader r(w.bytes());
  uint64_t u = 0;
  std::string s;
  int32_t i = 0;
  uint8_t two[2] = {};
  REQUIRE(r.get(u));
  REQUIRE(r.get_string(s));
  REQUIRE(r.get(i));
  CHECK(r.remaining() == 2);
  REQUIRE(r.get_bytes(two, 2));
  CHECK(u == 0x0102030405060708);
  CHECK(s == "abc");
  CHECK(i == -5);
  CHECK(two[1] == 8);
  CHECK(r.at_end());
  CHECK_FALSE(r.get(i));

  // A string whose length runs past the end.
  const std::vector<uint8_t> bad = {200, 0, 0, 0, 'x'};
  io::ByteReader short_reader(bad);
  CHECK_FALSE(short_reader.get_string(s));
}
