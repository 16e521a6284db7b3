#pragma once
// The word vocabulary of a language-modelling corpus, with the reference's ids: `<eos>` is 0,
// then every symbol of the training text by descending count, ties in order of first
// appearance (Python's Counter.most_common). `<unk>` is an ordinary symbol (WikiText has it);
// when present, words outside the vocabulary map to it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/text/symbol_table.h"

namespace ff::data {

class Vocab {
 public:
  static constexpr int32_t kEosId = 0;
  static constexpr std::string_view kEos = "<eos>";
  static constexpr std::string_view kDefaultUnk = "<unk>";

  // Only `<eos>`.
  Vocab();
  // symbols[0] must be `<eos>`; counts (training counts, same length) may be empty.
  // `unk_symbol` names the symbol unknown words map to (absent from symbols: no mapping).
  Vocab(SymbolTable symbols, std::vector<int64_t> counts, std::string_view unk_symbol = kDefaultUnk);

  int32_t size() const { return symbols_.size(); }
  std::string_view symbol(int32_t id) const;
  // The id of a symbol, or -1 when it is not in the vocabulary.
  int32_t find(std::string_view symbol) const { return symbols_.find(symbol); }
  // The id of a symbol, the unk id for an unknown one; ff::UserError when there is no unk.
  int32_t id_or_unk(std::string_view symbol) const;
  // The id of the unk symbol, or -1 when the vocabulary has none.
  int32_t unk_id() const { return unk_id_; }
  const std::string& unk_symbol() const { return unk_symbol_; }
  // How often the symbol occurs in the training text (0 for `<eos>`, which is not counted).
  int64_t count(int32_t id) const;

  const SymbolTable& symbols() const { return symbols_; }
  const std::vector<int64_t>& counts() const { return counts_; }

 private:
  SymbolTable symbols_;
  std::vector<int64_t> counts_;
  std::string unk_symbol_;
  int32_t unk_id_ = -1;
};

// A vocabulary built from training text together with that text's ids.
struct VocabAndIds {
  Vocab vocab;
  std::vector<int32_t> ids;
};

// Builds the vocabulary from `text` (the train split) and encodes it: each line's words then
// `<eos>`, blank lines included. `source` names the text in error messages.
VocabAndIds build_vocab_and_encode(std::string_view text, std::string_view source,
                                   std::string_view unk_symbol = Vocab::kDefaultUnk);

// Encodes `text` (a valid or test split) with an existing vocabulary. Unknown words map to the
// unk symbol; when the vocabulary has none, ff::UserError names `source`, the line and word.
std::vector<int32_t> encode_text(const Vocab& vocab, std::string_view text, std::string_view source);

}  // namespace ff::data
