#pragma once
// model.attention, read the same way by the language-model and the image task (every key in
// docs/configs.md): the kinds a task accepts and its defaults (R_init) are the caller's.

#include <string>
#include <vector>

#include "core/config/config.h"
#include "models/attention/multi_head_attention.h"

namespace ff::apps {

// `defaults` supplies every key's default except `features`, whose default depends on the kind
// (models::default_features). Keys out of range fail naming the key.
models::AttentionConfig parse_attention_config(const config::Section& a, const models::AttentionConfig& defaults,
                                               const std::vector<std::string>& kinds);

}  // namespace ff::apps
