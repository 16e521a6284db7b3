#include "data/text/symbol_table.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "data/text/hash.h"
#include "kernels/common.h"

namespace ff::data {

SymbolTable::SymbolTable(std::string arena, std::vector<uint64_t> offsets)
    : arena_(std::move(arena)), offsets_(std::move(offsets)) {
  FF_CHECK(!offsets_.empty() && offsets_.front() == 0 && offsets_.back() == arena_.size(),
           "symbol arena of {} bytes does not match its {} offsets", arena_.size(), offsets_.size());
  FF_CHECK(offsets_.size() - 1 < static_cast<size_t>(INT32_MAX), "{} symbols do not fit int32 ids",
           offsets_.size() - 1);
  for (size_t i = 0; i + 1 < offsets_.size(); ++i)
    FF_CHECK(offsets_[i] <= offsets_[i + 1], "symbol offsets decrease at id {}", i);
  rehash(std::bit_ceil(std::max<size_t>(16, 2 * offsets_.size())));
}

uint64_t SymbolTable::prefix_of(std::string_view s) {
  uint64_t v = 0;
  std::memcpy(&v, s.data(), std::min<size_t>(s.size(), 8));
  return v;
}

bool SymbolTable::slot_holds(const Slot& slot, std::string_view s, uint64_t prefix) const {
  if (slot.prefix != prefix || slot.length != s.size()) return false;
  if (s.size() <= 8) return true;
  const uint64_t at = offsets_[slot.id_plus_one - 1];
  return std::memcmp(arena_.data() + at + 8, s.data() + 8, s.size() - 8) == 0;
}

size_t SymbolTable::probe(std::string_view s, uint64_t h, uint64_t prefix) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.id_plus_one == 0 || slot_holds(slot, s, prefix)) return i;
  }
}

int32_t SymbolTable::find(std::string_view s) const {
  return static_cast<int32_t>(slots_[probe(s, hash_symbol(s), prefix_of(s))].id_plus_one) - 1;
}

std::pair<int32_t, bool> SymbolTable::insert(std::string_view s) {
  FF_CHECK(s.size() < UINT32_MAX, "symbol of {} bytes is too long", s.size());
  const uint64_t prefix = prefix_of(s);
  const size_t i = probe(s, hash_symbol(s), prefix);
  if (slots_[i].id_plus_one != 0) return {static_cast<int32_t>(slots_[i].id_plus_one - 1), false};
  const int32_t id = size();
  FF_CHECK(id < INT32_MAX - 1, "symbol table is full ({} symbols)", id);
  arena_.append(s);
  offsets_.push_back(arena_.size());
  // Keep the load factor at most 1/2 so probes stay short.
  if (2 * offsets_.size() > slots_.size()) {
    rehash(2 * slots_.size());
  } else {
    slots_[i] = Slot{prefix, static_cast<uint32_t>(id + 1), static_cast<uint32_t>(s.size())};
  }
  return {id, true};
}

void SymbolTable::rehash(size_t slot_count) {
  slots_.assign(slot_count, Slot{});
  const size_t mask = slot_count - 1;
  for (int32_t id = 0; id < size(); ++id) {
    const std::string_view s = symbol(id);
    const uint64_t prefix = prefix_of(s);
    size_t i = hash_symbol(s) & mask;
    for (; slots_[i].id_plus_one != 0; i = (i + 1) & mask)
      FF_CHECK(!slot_holds(slots_[i], s, prefix), "duplicate symbol '{}' (ids {} and {})", s,
               slots_[i].id_plus_one - 1, id);
    slots_[i] = Slot{prefix, static_cast<uint32_t>(id + 1), static_cast<uint32_t>(s.size())};
  }
}

}  // namespace ff::data
