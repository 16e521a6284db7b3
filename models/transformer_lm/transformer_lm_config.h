#pragma once
// The language model's shape and regularisation, as the `model:` section of a config reads it
// (docs/configs.md). The vocabulary size comes from the corpus, not the config.

#include <cstdint>
#include <string>
#include <vector>

#include "models/attention/multi_head_attention.h"

namespace ff::models {

struct TransformerLmConfig {
  int64_t n_token = 0;  // vocabulary size (from the corpus)
  int64_t n_layer = 16;
  int64_t d_model = 128;  // = d_embed (div_val 1, no projections)
  int64_t n_head = 8;
  int64_t d_head = 16;
  int64_t d_inner = 2048;
  double dropout = 0.1;
  // Adaptive softmax: ascending shortlist / cluster boundaries, each in (0, n_token); empty: a
  // plain full softmax over the vocabulary.
  std::vector<int64_t> cutoffs;
  int64_t mem_len = 0;  // Transformer-XL segment memory (hidden states of earlier segments)
  double layer_norm_eps = 1e-5;
  double init_std = 0.02;       // Linear, embedding, LayerNorm weight around 1, cluster weight
  AttentionConfig attention;    // softmax | fourier, R init 2.0, per-layer or per-dim R
};

// Throws ff::UserError naming `where` (the config section) for a bad combination, e.g.
// cutoffs that are not ascending or not below n_token.
void validate(const TransformerLmConfig& config, const std::string& where = "model");

}  // namespace ff::models
