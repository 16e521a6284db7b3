// Timing of corpus loading, run on demand (hidden tag, not part of the test suite):
//
//   scripts/data/make-synthetic-corpus.py /tmp/ff-synthetic --mb 100
//   FF_CORPUS_BENCH_DIR=/tmp/ff-synthetic build/tests/ff_tests_data "[.bench][corpus]"
//
// Prints the time to tokenise and write the cache, and to load from the cache with and
// without content verification. Asserts only that the three loads agree.

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "data/text/text_corpus.h"
#include "support/cpu_seconds.h"

using namespace ff::data;

using ff::testing::cpu_seconds;

TEST_CASE("corpus load timing on FF_CORPUS_BENCH_DIR", "[.bench][data][corpus]") {
  const char* dir = std::getenv("FF_CORPUS_BENCH_DIR");
  if (!dir) {
    std::cout << "FF_SKIP: set FF_CORPUS_BENCH_DIR to a corpus directory" << std::endl;
    return;
  }
  std::filesystem::remove(std::filesystem::path(dir) / TextCorpus::kCacheFileName);
  const double cpu0 = cpu_seconds();
  const TextCorpus built = TextCorpus::load(dir);
  const double cpu1 = cpu_seconds();
  REQUIRE_FALSE(built.load_info().from_cache);
  const TextCorpus cached = TextCorpus::load(dir);
  const double cpu2 = cpu_seconds();
  REQUIRE(cached.load_info().from_cache);
  TextCorpusOptions quick;
  quick.verify_content = false;
  const TextCorpus cached_quick = TextCorpus::load(dir, quick);
  const double cpu3 = cpu_seconds();
  REQUIRE(cached_quick.load_info().from_cache);

  size_t bytes = 0, tokens = 0;
  for (Split s : kAllSplits) {
    bytes += std::filesystem::file_size(built.source_path(s));
    tokens += built.ids(s).size();
    REQUIRE(cached.ids(s).size() == built.ids(s).size());
    REQUIRE(std::equal(cached.ids(s).begin(), cached.ids(s).end(), built.ids(s).begin()));
    REQUIRE(std::equal(cached_quick.ids(s).begin(), cached_quick.ids(s).end(), built.ids(s).begin()));
  }
  const double build_s = built.load_info().seconds;
  std::cout << fmt::format(
      "{}: {:.1f} MB of text, {} tokens, vocabulary {}\n"
      "  tokenise + write cache:            {:6.2f} s wall, {:6.2f} s CPU ({:.1f} M tokens per CPU second)\n"
      "  load cache, verifying text hashes: {:6.2f} s wall, {:6.2f} s CPU\n"
      "  load cache, size + mtime only:     {:6.2f} s wall, {:6.2f} s CPU\n",
      dir, bytes / 1e6, tokens, built.vocab().size(), build_s, cpu1 - cpu0, tokens / 1e6 / (cpu1 - cpu0),
      cached.load_info().seconds, cpu2 - cpu1, cached_quick.load_info().seconds, cpu3 - cpu2);
}
