#include "data/text/vocab.h"

#include <algorithm>
#include <numeric>

#include "data/text/whitespace_scanner.h"
#include "kernels/common.h"

namespace ff::data {

namespace {
SymbolTable eos_only() {
  SymbolTable t;
  t.insert(Vocab::kEos);
  return t;
}
}  // namespace

Vocab::Vocab() : Vocab(eos_only(), {0}) {}

Vocab::Vocab(SymbolTable symbols, std::vector<int64_t> counts, std::string_view unk_symbol)
    : symbols_(std::move(symbols)), counts_(std::move(counts)), unk_symbol_(unk_symbol) {
  FF_CHECK(symbols_.size() > 0 && symbols_.symbol(kEosId) == kEos, "a vocabulary must start with {} (id {})",
           kEos, kEosId);
  if (counts_.empty()) counts_.assign(static_cast<size_t>(symbols_.size()), 0);
  FF_CHECK(counts_.size() == static_cast<size_t>(symbols_.size()), "{} counts for {} symbols", counts_.size(),
           symbols_.size());
  unk_id_ = unk_symbol_.empty() ? -1 : symbols_.find(unk_symbol_);
}

std::string_view Vocab::symbol(int32_t id) const {
  FF_CHECK(id >= 0 && id < size(), "token id {} is outside the vocabulary [0, {})", id, size());
  return symbols_.symbol(id);
}

int32_t Vocab::id_or_unk(std::string_view s) const {
  const int32_t id = find(s);
  if (id >= 0) return id;
  FF_USER_CHECK(unk_id_ >= 0, "word '{}' is not in the vocabulary and the vocabulary has no '{}'", s,
                unk_symbol_);
  return unk_id_;
}

int64_t Vocab::count(int32_t id) const {
  FF_CHECK(id >= 0 && id < size(), "token id {} is outside the vocabulary [0, {})", id, size());
  return counts_[static_cast<size_t>(id)];
}

VocabAndIds build_vocab_and_encode(std::string_view text, std::string_view source,
                                   std::string_view unk_symbol) {
  // One pass: intern every word in order of first appearance (`<eos>` first), count it and
  // record its provisional id; then renumber by count and rewrite the ids.
  SymbolTable seen;
  seen.insert(Vocab::kEos);
  std::vector<int64_t> counts{0};
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 5);
  scan_lines_and_tokens(
      text, source,
      [&](std::string_view word, int64_t) {
        const auto [id, added] = seen.insert(word);
        if (added) counts.push_back(0);
        if (id != Vocab::kEosId) ++counts[static_cast<size_t>(id)];
        ids.push_back(id);
      },
      [&](int64_t) { ids.push_back(Vocab::kEosId); });

  // Provisional ids are first-appearance order, so a stable sort by descending count gives
  // Counter.most_common's order. `<eos>` stays first whatever its count.
  std::vector<int32_t> order(counts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin() + 1, order.end(), [&](int32_t a, int32_t b) {
    return counts[static_cast<size_t>(a)] > counts[static_cast<size_t>(b)];
  });
  std::vector<int32_t> final_id(order.size());
  SymbolTable symbols;
  std::vector<int64_t> final_counts(order.size());
  for (size_t rank = 0; rank < order.size(); ++rank) {
    final_id[static_cast<size_t>(order[rank])] = static_cast<int32_t>(rank);
    symbols.insert(seen.symbol(order[rank]));
    final_counts[rank] = counts[static_cast<size_t>(order[rank])];
  }
  for (int32_t& id : ids) id = final_id[static_cast<size_t>(id)];
  return {Vocab(std::move(symbols), std::move(final_counts), unk_symbol), std::move(ids)};
}

std::vector<int32_t> encode_text(const Vocab& vocab, std::string_view text, std::string_view source) {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 5);
  const int32_t unk = vocab.unk_id();
  scan_lines_and_tokens(
      text, source,
      [&](std::string_view word, int64_t line) {
        int32_t id = vocab.find(word);
        if (id < 0) {
          FF_USER_CHECK(unk >= 0,
                        "{}:{}: word '{}' is not in the vocabulary (built from the training "
                        "split) and the vocabulary has no '{}' symbol to map it to; expected "
                        "every word to occur in the training split, or '{}' to be one of its "
                        "symbols",
                        source, line, word, vocab.unk_symbol(), vocab.unk_symbol());
          id = unk;
        }
        ids.push_back(id);
      },
      [&](int64_t) { ids.push_back(Vocab::kEosId); });
  return ids;
}

}  // namespace ff::data
