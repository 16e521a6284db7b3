#pragma once
// The paper's language model: the reference Transformer-XL LM (lmtool-fwp) with absolute
// positions (attn_type 2), post-LN blocks and a tied adaptive softmax. See REFERENCE.md and
// docs/checkpoints.md (parameter names, shapes, the mapping to the reference's names).
//
//   ids: (B, T) token ids   ->   hidden: (B, T, d_model)   ->   mean NLL over the B*T targets
//
//   x_0 = Dropout(E[ids] * sqrt(d_model) + P[klen-1-M .. 0])   positions count down (Transformer-XL)
//   x_l = DecoderLayer_l(x_{l-1}, memory_l)                     l = 1..n_layer
//   hidden = Dropout(x_L);  loss = AdaptiveLogSoftmax(hidden, targets, weight E)
//
// P is the sinusoidal table [sin(p f), cos(p f)] with f_k = 10000^(-2k/d_model); klen = M + T
// with M the memory length. Segment memory (mem_len > 0): memory_l holds the last mem_len
// inputs of layer l from earlier segments (detached), used as extra keys before the segment;
// layer 1's memory gets the positions P[klen-1 .. T] added (the reference adds them in place
// to its stored memory, so they accumulate over segments; we add them once, to a copy).
//
// Parameters (names are the checkpoint keys):
//   word_emb.emb_layers.0.weight   (V, d_model)   tied to the output layer
//   layers.<i>.*                   see decoder_layer.h
//   crit.*                         see adaptive_softmax.h

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/nn/embedding.h"
#include "core/nn/module.h"
#include "models/transformer_lm/adaptive_softmax.h"
#include "models/transformer_lm/decoder_layer.h"
#include "models/transformer_lm/transformer_lm_config.h"

namespace ff::models {

// The hidden states of earlier segments: one (B, M, d_model) tensor per layer (M <= mem_len),
// detached; empty before the first segment.
struct SegmentMemory {
  std::vector<Tensor> layers;
  bool empty() const { return layers.empty(); }
  int64_t length() const { return layers.empty() ? 0 : layers[0].size(1); }
  void clear() { layers.clear(); }
};

// One batch on the model's device. Host ids (row-major, B*T) become tensors inside.
struct LmInput {
  int64_t rows = 0, seq_len = 0;
  std::span<const int32_t> inputs;   // (B, T)
  std::span<const int32_t> targets;  // (B, T): the next token of each input
};

class TransformerLm : public nn::Module {
 public:
  // Initialises as the reference: Linear and embedding weights N(0, init_std), biases 0,
  // LayerNorm weight N(1, init_std) and bias 0, cluster weight N(0, init_std) and bias 0.
  TransformerLm(const TransformerLmConfig& config, Generator& gen, DType dtype = DType::F32);

  // ids: (B, T) int32 on the model's device -> (B, T, d_model) after the final dropout.
  // memory: read when not empty and mem_len > 0, then replaced by the new memory (when
  // mem_len > 0). maps: when given, receives each layer's attention maps (B, H, T, M + T).
  Tensor hidden(const Tensor& ids, SegmentMemory* memory = nullptr, std::vector<Tensor>* maps = nullptr);

  // Mean negative log-likelihood over the B*T targets: () with autograd history.
  Tensor loss(const LmInput& batch, SegmentMemory* memory = nullptr);
  // Sum of -log p over the targets at the scored positions only: row r scores positions
  // [score_begin[r], T) (the sliding-window evaluation); the rest of the softmax is skipped.
  Tensor scored_nll_sum(const LmInput& batch, std::span<const int32_t> score_begin);
  // hidden: (N, d_model) -> (N, V) log-probabilities over the vocabulary.
  Tensor log_prob(const Tensor& hidden) const;

  // fourier_rf attention: the frequencies of training step `step` in every layer
  // (MultiHeadAttention::set_step); nothing for the other kinds.
  void set_step(int64_t step);

  // The learned R of each Fourier layer (the mean when R is per-dimension); empty for softmax.
  std::vector<double> fourier_R() const;

  const TransformerLmConfig& config() const { return config_; }
  const Tensor& embedding_weight() const { return word_emb_->weight; }

  std::vector<std::shared_ptr<DecoderLayer>> layers;
  std::shared_ptr<AdaptiveLogSoftmax> crit;

 private:
  // (klen, d_model) rows P[klen-1], ..., P[0] on `device` (cached for the longest klen seen).
  Tensor positions(int64_t klen, Device device, DType dtype);
  Tensor ids_tensor(std::span<const int32_t> ids, const Shape& shape) const;
  Device device() const;

  TransformerLmConfig config_;
  std::shared_ptr<nn::Embedding> word_emb_;
  std::shared_ptr<nn::Dropout> drop_;
  Tensor pos_table_;  // (K, d_model): P[K-1], ..., P[0]
};

}  // namespace ff::models
