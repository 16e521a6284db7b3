// scripts/data/brown_to_wikitext.py on a small fake Brown corpus: tag stripping, the
// document split rule, the <unk> threshold, and a result TextCorpus loads.

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <iostream>

#include "data/text/text_corpus.h"
#include "support/paths.h"
#include "temp_dir.h"

using namespace ff::data;
using ff::data::testing::read_file;
using ff::data::testing::TempDir;
using ff::data::testing::write_file;

TEST_CASE("Brown conversion strips tags, splits by document and closes the vocabulary", "[data]") {
  if (std::system("python3 -c pass > /dev/null 2>&1") != 0) {
    std::cout << "FF_SKIP: python3 is not available" << std::endl;
    return;
  }
  TempDir src, out;
  // 40 documents ca01 .. ca40 in the tagged format: document d has one sentence naming it,
  // then a sentence with words shared by all documents; "1/2/cd" is the word "1/2".
  for (int d = 1; d <= 40; ++d) {
    write_file(src / fmt::format("ca{:02d}", d),
               fmt::format("\n\n\tThe/at doc{}/np said/vbd 1/2/cd ./.\n\n\n\tthe/at end/nn ./.\n", d));
  }
  write_file(src / "README", "not a document\n");
  const std::string cmd =
      fmt::format("python3 {}/scripts/data/brown_to_wikitext.py --documents 40 {} {} > /dev/null",
                  ff::testing::source_dir(), src.path().string(), out.path().string());
  REQUIRE(std::system(cmd.c_str()) == 0);

  // Documents 10 and 30 (indices 9 and 29) are valid, 20 and 40 test; their doc names occur
  // once (fewer than 3 times in train), so they are <unk>.
  CHECK(read_file(out / "valid.txt") ==
        "The <unk> said 1/2 .\nthe end .\n\nThe <unk> said 1/2 .\nthe end .\n\n");
  const std::string train = read_file(out / "train.txt");
  CHECK(train.rfind("The <unk> said 1/2 .\nthe end .\n\n", 0) == 0);
  CHECK(train.find("doc") == std::string::npos);

  const TextCorpus corpus = TextCorpus::load(out.path());
  // <eos>, "." (72 times), then The <unk> said 1/2 the end (36 each) in order of appearance.
  CHECK(corpus.vocab().size() == 8);
  CHECK(corpus.vocab().symbol(1) == ".");
  CHECK(corpus.vocab().symbol(2) == "The");
  CHECK(corpus.vocab().symbol(3) == "<unk>");
  CHECK(corpus.vocab().symbol(7) == "end");
  // Per document: 5 + 1, 3 + 1 and the blank line's <eos>.
  CHECK(corpus.ids(Split::train).size() == 36 * 11);
  CHECK(corpus.ids(Split::test).size() == 2 * 11);
  CHECK(corpus.vocab().unk_id() > 0);

  // The wrong number of documents is refused.
  const std::string bad = fmt::format("python3 {}/scripts/data/brown_to_wikitext.py {} {} > /dev/null 2>&1",
                                      ff::testing::source_dir(), src.path().string(), (out / "again").string());
  CHECK(std::system(bad.c_str()) != 0);
}
