// Vocabulary order, line and token splitting, unknown words.

#include "data/text/vocab.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "kernels/common.h"
#include "support/user_error.h"

using namespace ff::data;
using ff::testing::user_error_of;

namespace {
std::vector<std::string> symbols_of(const Vocab& v) {
  std::vector<std::string> out;
  for (int32_t i = 0; i < v.size(); ++i) out.emplace_back(v.symbol(i));
  return out;
}
std::vector<std::string> decode(const Vocab& v, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.emplace_back(v.symbol(id));
  return out;
}
}  // namespace

TEST_CASE("vocab orders symbols by count, ties by first appearance, eos first", "[data]") {
  // counts: b 3, a 2, c 2, The 1, the 1, d 1 ; first appearance: b a c the The d
  const std::string text = "b a c\nthe b\n\nThe a c b d\n";
  const VocabAndIds r = build_vocab_and_encode(text, "train.txt");
  CHECK(symbols_of(r.vocab) == std::vector<std::string>{"<eos>", "b", "a", "c", "the", "The", "d"});
  CHECK(r.vocab.count(0) == 0);
  CHECK(r.vocab.count(1) == 3);
  CHECK(r.vocab.count(r.vocab.find("c")) == 2);
  CHECK(r.vocab.find("The") == 5);  // no lower-casing
  CHECK(r.vocab.find("missing") == -1);
  CHECK(r.vocab.unk_id() == -1);
  CHECK(r.ids == std::vector<int32_t>{1, 2, 3, 0, 4, 1, 0, 0, 5, 2, 3, 1, 6, 0});
}

TEST_CASE("vocab ids follow the most-common order on a larger stream", "[data]") {
  // Word k appears (k % 7) + 1 times, first appearances in order 0..49: the order is by count
  // descending (6 first), and among equal counts by k ascending.
  std::string text;
  for (int round = 0; round < 7; ++round)
    for (int k = 0; k < 50; ++k)
      if (round <= k % 7) text += fmt::format("w{}", k) + (k % 10 == 9 ? "\n" : " ");
  const VocabAndIds r = build_vocab_and_encode(text, "train.txt");
  REQUIRE(r.vocab.size() == 51);
  int32_t id = 1;
  for (int count = 7; count >= 1; --count)
    for (int k = 0; k < 50; ++k)
      if (k % 7 + 1 == count) {
        INFO("word w" << k);
        CHECK(r.vocab.find(fmt::format("w{}", k)) == id);
        CHECK(r.vocab.count(id) == count);
        ++id;
      }
}

TEST_CASE("every line gets <eos>, blank and whitespace-only lines too", "[data]") {
  const VocabAndIds r = build_vocab_and_encode("a\n\n   \nb c\n\t\n", "train.txt");
  CHECK(decode(r.vocab, r.ids) ==
        std::vector<std::string>{"a", "<eos>", "<eos>", "<eos>", "b", "c", "<eos>", "<eos>"});
}

TEST_CASE("lines end at LF, CRLF or CR, a last line without newline counts", "[data]") {
  const VocabAndIds r = build_vocab_and_encode("a\r\nb\rc\n\nd e", "train.txt");
  CHECK(decode(r.vocab, r.ids) ==
        std::vector<std::string>{"a", "<eos>", "b", "<eos>", "c", "<eos>", "<eos>", "d", "e", "<eos>"});
  CHECK(build_vocab_and_encode("", "train.txt").ids.empty());
  CHECK(build_vocab_and_encode("x\n", "train.txt").ids == std::vector<int32_t>{1, 0});
  CHECK(build_vocab_and_encode("x\n ", "train.txt").ids == std::vector<int32_t>{1, 0, 0});
}

TEST_CASE("tokens split on Python's whitespace, including Unicode spaces", "[data]") {
  // \v \f \x1c and U+00A0, U+2009, U+3000 separate; U+00E9 and U+200B (zero-width space, not
  // whitespace for Python) do not.
  const std::string text =
      "a\vb\fc\x1c"
      "d e\xc2\xa0"
      "f\xe2\x80\x89g\xe3\x80\x80h caf\xc3\xa9 x\xe2\x80\x8by\n";
  const VocabAndIds r = build_vocab_and_encode(text, "train.txt");
  CHECK(decode(r.vocab, r.ids) == std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h",
                                                           "caf\xc3\xa9", "x\xe2\x80\x8by", "<eos>"});
}

TEST_CASE("invalid UTF-8 is a user error naming the file, line and byte", "[data]") {
  // A file cut inside a two-byte character, and a stray continuation byte.
  const std::string truncated = "one\ntwo caf\xc3";
  const std::string msg = user_error_of([&] { build_vocab_and_encode(truncated, "/data/train.txt"); });
  CHECK_THAT(msg, Catch::Contains("/data/train.txt:2:") && Catch::Contains("invalid UTF-8") &&
                      Catch::Contains("0xc3") && Catch::Contains("byte offset 11"));
  CHECK_THAT(user_error_of([&] { build_vocab_and_encode("ok\n\x80", "t.txt"); }), Catch::Contains("t.txt:2:"));
  // Overlong encodings and surrogates are invalid, as in Python.
  CHECK_THROWS_AS(build_vocab_and_encode("\xc0\xaf", "t.txt"), ff::UserError);
  CHECK_THROWS_AS(build_vocab_and_encode("\xed\xa0\x80", "t.txt"), ff::UserError);
  CHECK_NOTHROW(build_vocab_and_encode("\xf0\x9f\x98\x80", "t.txt"));
}

TEST_CASE("unknown words map to <unk> when the vocabulary has it", "[data]") {
  const VocabAndIds train = build_vocab_and_encode("the cat <unk> sat\nthe end\n", "train.txt");
  REQUIRE(train.vocab.unk_id() == train.vocab.find("<unk>"));
  REQUIRE(train.vocab.unk_id() > 0);
  const std::vector<int32_t> ids = encode_text(train.vocab, "the dog sat\n\nzebra\n", "valid.txt");
  CHECK(decode(train.vocab, ids) ==
        std::vector<std::string>{"the", "<unk>", "sat", "<eos>", "<eos>", "<unk>", "<eos>"});
  CHECK(train.vocab.id_or_unk("dog") == train.vocab.unk_id());
  CHECK(train.vocab.id_or_unk("cat") == train.vocab.find("cat"));
}

TEST_CASE("an unknown word without <unk> names the file, line and word", "[data]") {
  const VocabAndIds train = build_vocab_and_encode("the cat sat\n", "train.txt");
  const std::string msg =
      user_error_of([&] { encode_text(train.vocab, "the cat\n\nthe dog sat\nbird\n", "/corpus/valid.txt"); });
  CHECK_THAT(
      msg, Catch::Contains("/corpus/valid.txt:3:") && Catch::Contains("'dog'") && Catch::Contains("'<unk>'"));
  CHECK_THROWS_AS(train.vocab.id_or_unk("dog"), ff::UserError);
}

TEST_CASE("a custom unk symbol and a literal <eos> in the text", "[data]") {
  const VocabAndIds train = build_vocab_and_encode("a <eos> b UNK\n", "train.txt", "UNK");
  CHECK(train.vocab.find("<eos>") == 0);
  CHECK(train.ids == std::vector<int32_t>{1, 0, 2, 3, 0});
  CHECK(encode_text(train.vocab, "zzz\n", "test.txt") == std::vector<int32_t>{train.vocab.find("UNK"), 0});
}

TEST_CASE("symbol table grows and finds every symbol", "[data]") {
  SymbolTable t;
  for (int i = 0; i < 20000; ++i) REQUIRE(t.insert(fmt::format("s{}", i * 7919)).first == i);
  for (int i = 0; i < 20000; ++i) REQUIRE(t.find(fmt::format("s{}", i * 7919)) == i);
  CHECK(t.insert("s0").second == false);
  CHECK(t.find("s1") == -1);
  CHECK(t.find("") == -1);
  SymbolTable copy(t.arena(), t.offsets());
  CHECK(copy.find(fmt::format("s{}", 19999 * 7919)) == 19999);
  std::string dup_arena = "abab";
  CHECK_THROWS_AS(SymbolTable(dup_arena, {0, 2, 4}), ff::Error);
}
