#pragma once
// The three splits of a language-modelling corpus.

#include <array>
#include <string_view>

namespace ff::data {

enum class Split : int { train = 0, valid = 1, test = 2 };
inline constexpr int kSplitCount = 3;
inline constexpr std::array<Split, kSplitCount> kAllSplits = {Split::train, Split::valid, Split::test};

inline std::string_view split_name(Split s) {
  constexpr std::array<std::string_view, kSplitCount> names = {"train", "valid", "test"};
  return names[static_cast<size_t>(s)];
}

}  // namespace ff::data
