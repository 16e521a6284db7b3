#pragma once
// The language-modelling task: joins the text corpus (data/text) and the Transformer LM
// (models/transformer_lm) for the generic trainer (core/train). It lives in apps/ because it
// depends on both data/ and models/, which must not depend on each other.
//
// Config sections it reads (every key in docs/configs.md, "Language model"):
//   data:  path, batch_size, tgt_len, cache
//   model: n_layer, d_model, n_head, d_head, d_inner, dropout, cutoffs, mem_len, init_std,
//          attention.* (apps/tasks/attention_config.h)
//   eval:  tgt_len, batch_size, sliding_window, window_batch_size, head_diversity_segments
//
// Training batches come from LmStreamIterator (Transformer-XL's columns); the data state in
// checkpoints is the iterator's position. Segment memory (mem_len > 0) is not saved: a resumed
// run starts with an empty memory (documented in docs/training.md), so bit-exact resumption
// holds for mem_len 0, the paper's setting.

#include <filesystem>
#include <string>

#include "core/train/task.h"

namespace ff::apps {

// The `task: lm` entry of the registry (apps/tasks/registry.h).

train::TaskFactory lm_task_factory();

}  // namespace ff::apps
