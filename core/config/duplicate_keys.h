#pragma once
// Refusing a YAML mapping that names a key twice.
//
// yaml-cpp accepts `seed: 1` followed by `seed: 2`, or two `train:` sections, and keeps both
// entries; a lookup sees only one of them, so the other is silently lost. The check reads the
// parser's event stream, which has every key with its position before aliases are expanded
// (an alias to its own ancestor would make a tree walk loop).

#include <string>

namespace ff::config {

// Throws ff::UserError for the first key repeated within one mapping, at any depth (nested
// mappings, mappings inside lists), e.g.
//   cfg.yaml: duplicate key 'train.max_steps' at lines 4 and 9
// Keys inside lists are written with the item index: 'data.files[1].name'. Only scalar keys
// (or aliases of scalars) are compared. `text` must already parse as YAML.
void check_no_duplicate_keys(const std::string& text, const std::string& source);

}  // namespace ff::config
