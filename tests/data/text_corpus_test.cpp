// Loading a corpus directory: layouts, errors, and the binary cache.

#include "data/text/text_corpus.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>

#include "kernels/common.h"
#include "support/user_error.h"
#include "temp_dir.h"

using namespace ff::data;
using ff::testing::user_error_of;
using ff::data::testing::read_file;
using ff::data::testing::TempDir;
using ff::data::testing::write_file;
namespace fs = std::filesystem;

namespace {
const char* kTrain = "the cat sat on the mat\n\nthe dog <unk> ran\n";
const char* kValid = "the bird sat\n";
const char* kTest = "a dog ran on\n\n";

void write_corpus(const TempDir& dir) {
  write_file(dir / "train.txt", kTrain);
  write_file(dir / "valid.txt", kValid);
  write_file(dir / "test.txt", kTest);
}

std::vector<int32_t> to_vector(std::span<const int32_t> s) { return {s.begin(), s.end()}; }

void expect_same_corpus(const TextCorpus& a, const TextCorpus& b) {
  REQUIRE(a.vocab().size() == b.vocab().size());
  for (int32_t i = 0; i < a.vocab().size(); ++i) {
    CHECK(a.vocab().symbol(i) == b.vocab().symbol(i));
    CHECK(a.vocab().count(i) == b.vocab().count(i));
  }
  CHECK(a.vocab().unk_id() == b.vocab().unk_id());
  for (Split s : kAllSplits) CHECK(to_vector(a.ids(s)) == to_vector(b.ids(s)));
}
}  // namespace

TEST_CASE("corpus splits are encoded with the train vocabulary", "[data]") {
  TempDir dir;
  write_corpus(dir);
  const TextCorpus c = TextCorpus::load(dir.path());
  const Vocab& v = c.vocab();
  // the 3; cat sat on mat dog <unk> ran 1 each, in order of appearance.
  CHECK(v.size() == 9);
  CHECK(v.symbol(1) == "the");
  CHECK(v.symbol(2) == "cat");
  CHECK(v.symbol(8) == "ran");
  CHECK(c.ids(Split::train).size() == 6 + 1 + 1 + 4 + 1);
  const int32_t unk = v.find("<unk>");
  CHECK(to_vector(c.ids(Split::valid)) == std::vector<int32_t>{1, unk, v.find("sat"), 0});
  CHECK(to_vector(c.ids(Split::test)) ==
        std::vector<int32_t>{unk, v.find("dog"), v.find("ran"), v.find("on"), 0, 0});
  CHECK(c.source_path(Split::valid) == dir / "valid.txt");
}

TEST_CASE("the wiki.*.tokens layout is accepted", "[data]") {
  TempDir dir;
  write_file(dir / "wiki.train.tokens", kTrain);
  write_file(dir / "wiki.valid.tokens", kValid);
  write_file(dir / "wiki.test.tokens", kTest);
  const TextCorpus c = TextCorpus::load(dir.path());
  CHECK(c.source_path(Split::train) == dir / "wiki.train.tokens");
  CHECK(c.ids(Split::valid).size() == 4);
}

TEST_CASE("missing corpus files name the directory and the expected files", "[data]") {
  TempDir dir;
  write_file(dir / "train.txt", kTrain);
  write_file(dir / "test.txt", kTest);
  const std::string msg = user_error_of([&] { TextCorpus::load(dir.path()); });
  CHECK_THAT(msg, Catch::Contains(dir.path().string()) && Catch::Contains("lacks valid.txt") &&
                      Catch::Contains("wiki.valid.tokens"));
  CHECK_THAT(user_error_of([&] { TextCorpus::load(dir / "nope"); }), Catch::Contains("does not exist"));
}

TEST_CASE("unreadable or truncated corpus files give clear errors", "[data]") {
  TempDir dir;
  write_corpus(dir);
  SECTION("a directory where a text file should be") {
    fs::remove(dir / "test.txt");
    fs::create_directory(dir / "test.txt");
    CHECK_THAT(user_error_of([&] { TextCorpus::load(dir.path()); }),
               Catch::Contains((dir / "test.txt").string()) && Catch::Contains("not a regular file"));
  }
  SECTION("a file cut inside a UTF-8 character") {
    write_file(dir / "valid.txt", "the cat\nthe \xe2\x80");
    CHECK_THAT(user_error_of([&] { TextCorpus::load(dir.path()); }),
               Catch::Contains((dir / "valid.txt").string() + ":2:") && Catch::Contains("invalid UTF-8"));
  }
  SECTION("an empty training file") {
    write_file(dir / "train.txt", "");
    CHECK_THAT(user_error_of([&] { TextCorpus::load(dir.path()); }), Catch::Contains("is empty"));
  }
  SECTION("an unknown word and no <unk> in train") {
    write_file(dir / "train.txt", "the cat sat\n");
    CHECK_THAT(user_error_of([&] { TextCorpus::load(dir.path()); }),
               Catch::Contains((dir / "valid.txt").string() + ":1:") && Catch::Contains("'bird'"));
  }
}

TEST_CASE("the second load reads the cache and gives the same corpus", "[data]") {
  TempDir dir;
  write_corpus(dir);
  const TextCorpus first = TextCorpus::load(dir.path());
  CHECK_FALSE(first.load_info().from_cache);
  CHECK(first.load_info().cache_written);
  CHECK(first.load_info().cache_path == dir / TextCorpus::kCacheFileName);
  CHECK(fs::exists(dir / TextCorpus::kCacheFileName));
  const TextCorpus second = TextCorpus::load(dir.path());
  CHECK(second.load_info().from_cache);
  CHECK_FALSE(second.load_info().cache_written);
  expect_same_corpus(first, second);
  // No temporary files left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) files += e.is_regular_file();
  CHECK(files == 4);
}

TEST_CASE("a changed text file rebuilds the cache", "[data]") {
  TempDir dir;
  write_corpus(dir);
  TextCorpus::load(dir.path());
  SECTION("same size, different contents") {
    write_file(dir / "valid.txt", "the bird ran\n");  // as long as "the bird sat\n"
    const TextCorpus c = TextCorpus::load(dir.path());
    CHECK_FALSE(c.load_info().from_cache);
    CHECK_THAT(c.load_info().cache_miss_reason, Catch::Contains("valid.txt' changed contents"));
    CHECK(to_vector(c.ids(Split::valid)) ==
          std::vector<int32_t>{1, c.vocab().unk_id(), c.vocab().find("ran"), 0});
    CHECK(TextCorpus::load(dir.path()).load_info().from_cache);
  }
  SECTION("different size") {
    write_file(dir / "train.txt", std::string(kTrain) + "bird\n");
    const TextCorpus c = TextCorpus::load(dir.path());
    CHECK_FALSE(c.load_info().from_cache);
    CHECK_THAT(c.load_info().cache_miss_reason, Catch::Contains("changed size"));
    CHECK(c.vocab().find("bird") > 0);
  }
  SECTION("a different unk symbol") {
    TextCorpusOptions o;
    o.unk_symbol = "<eos>";
    const TextCorpus c = TextCorpus::load(dir.path(), o);
    CHECK_FALSE(c.load_info().from_cache);
    CHECK(c.vocab().unk_id() == 0);
  }
}

TEST_CASE("without content verification, the mtime decides", "[data]") {
  TempDir dir;
  write_corpus(dir);
  TextCorpusOptions o;
  o.verify_content = false;
  TextCorpus::load(dir.path(), o);
  CHECK(TextCorpus::load(dir.path(), o).load_info().from_cache);
  const auto t = fs::last_write_time(dir / "test.txt");
  fs::last_write_time(dir / "test.txt", t + std::chrono::seconds(5));
  const TextCorpus c = TextCorpus::load(dir.path(), o);
  CHECK_FALSE(c.load_info().from_cache);
  CHECK_THAT(c.load_info().cache_miss_reason, Catch::Contains("modification time"));
  // With verification, a touched but unchanged file keeps its cache.
  fs::last_write_time(dir / "test.txt", t + std::chrono::seconds(10));
  CHECK(TextCorpus::load(dir.path()).load_info().from_cache);
}

TEST_CASE("a corrupt or truncated cache is rebuilt, never used", "[data]") {
  TempDir dir;
  write_corpus(dir);
  const TextCorpus reference = TextCorpus::load(dir.path());
  const fs::path cache = dir / TextCorpus::kCacheFileName;
  const std::string good = read_file(cache);
  REQUIRE(good.size() > 100);

  // Flip one byte at a time at spread-out places: header, metadata, vocabulary, ids.
  for (size_t at : {size_t{0}, size_t{9}, size_t{20}, size_t{30}, size_t{70}, size_t{90}, good.size() / 2,
                    good.size() - 5, good.size() - 1}) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    write_file(cache, bad);
    const TextCorpus c = TextCorpus::load(dir.path());
    INFO("flipped byte " << at << ": " << c.load_info().cache_miss_reason);
    CHECK_FALSE(c.load_info().from_cache);
    // Caught by the integrity checks, not by luck in the comparison with the text files.
    CHECK_THAT(c.load_info().cache_miss_reason, Catch::Contains("corrupt, "));
    CHECK(c.load_info().cache_written);
    expect_same_corpus(reference, c);
    CHECK(read_file(cache) == good);  // rewritten
  }
  for (size_t keep : {size_t{0}, size_t{10}, size_t{64}, good.size() - 1}) {
    write_file(cache, good.substr(0, keep));
    const TextCorpus c = TextCorpus::load(dir.path());
    INFO("truncated to " << keep << ": " << c.load_info().cache_miss_reason);
    CHECK_FALSE(c.load_info().from_cache);
    expect_same_corpus(reference, c);
  }
  write_file(cache, good + "x");
  CHECK_FALSE(TextCorpus::load(dir.path()).load_info().from_cache);
  CHECK(TextCorpus::load(dir.path()).load_info().from_cache);
}

TEST_CASE("an explicit cache path and a disabled cache", "[data]") {
  TempDir dir, elsewhere;
  write_corpus(dir);
  TextCorpusOptions o;
  o.cache_path = elsewhere / "sub" / "corpus.bin";
  CHECK(TextCorpus::load(dir.path(), o).load_info().cache_written);
  CHECK(fs::exists(o.cache_path));
  CHECK_FALSE(fs::exists(dir / TextCorpus::kCacheFileName));
  CHECK(TextCorpus::load(dir.path(), o).load_info().from_cache);

  TextCorpusOptions off;
  off.use_cache = false;
  const TextCorpus c = TextCorpus::load(dir.path(), off);
  CHECK_FALSE(c.load_info().from_cache);
  CHECK_FALSE(c.load_info().cache_written);
  CHECK_FALSE(fs::exists(dir / TextCorpus::kCacheFileName));
}

TEST_CASE("an unwritable cache location falls back or loads without a cache", "[data]") {
  TempDir dir, home;
  write_corpus(dir);
  // A cache path whose parent is a regular file cannot be created, by root either.
  write_file(home / "blocker", "");
  TextCorpusOptions o;
  o.cache_path = home / "blocker" / "corpus.bin";
  const TextCorpus c = TextCorpus::load(dir.path(), o);
  CHECK_FALSE(c.load_info().cache_written);
  CHECK(c.vocab().size() == 9);
}
