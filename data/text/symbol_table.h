#pragma once
// An insertion-ordered set of strings with dense int32 ids: symbols live in one contiguous
// arena (offsets[id] .. offsets[id + 1]), looked up through an open-addressing hash index.
// The arena layout is what the corpus cache stores, so loading a vocabulary is two reads.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ff::data {

class SymbolTable {
 public:
  SymbolTable() = default;
  // Adopts an arena + offsets (offsets.size() == symbols + 1, offsets[0] == 0, nondecreasing,
  // back() == arena.size()) and indexes it. Throws ff::Error on a malformed layout or a
  // duplicate symbol.
  SymbolTable(std::string arena, std::vector<uint64_t> offsets);

  int32_t size() const { return static_cast<int32_t>(offsets_.size() - 1); }
  std::string_view symbol(int32_t id) const {
    return {arena_.data() + offsets_[id], static_cast<size_t>(offsets_[id + 1] - offsets_[id])};
  }
  // The id of s, or -1.
  int32_t find(std::string_view s) const;
  // The id of s, adding it at the end when absent; second is true when it was added.
  std::pair<int32_t, bool> insert(std::string_view s);

  const std::string& arena() const { return arena_; }
  const std::vector<uint64_t>& offsets() const { return offsets_; }

 private:
  // A symbol's first 8 bytes (zero-padded) and length are kept in its slot, so most lookups
  // of short words touch one cache line and never the arena.
  struct Slot {
    uint64_t prefix = 0;
    uint32_t id_plus_one = 0;  // 0: empty
    uint32_t length = 0;
  };
  static uint64_t prefix_of(std::string_view s);
  bool slot_holds(const Slot& slot, std::string_view s, uint64_t prefix) const;
  size_t probe(std::string_view s, uint64_t h, uint64_t prefix) const;  // s's slot or an empty one
  void rehash(size_t slot_count);

  std::string arena_;
  std::vector<uint64_t> offsets_{0};
  std::vector<Slot> slots_ = std::vector<Slot>(16);
};

}  // namespace ff::data
