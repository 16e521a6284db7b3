#pragma once
// One post-LN decoder block of the reference Transformer-XL LM (attn_type 2: absolute
// positions added at the input):
//
//   h = LayerNorm(x + Dropout(Attention(x, memory)))          dec_attn
//   y = LayerNorm(h + Dropout(W2 Dropout(ReLU(W1 h + b1)) + b2))   pos_ff
//
//   x: (B, T, d_model)   memory: (B, M, d_model) or undefined   ->   (B, T, d_model)
//
// Parameters (checkpoint keys below `layers.<i>`; the names are the reference's):
//   dec_attn.R                 (1) or (d_head)      Fourier attention only
//   dec_attn.q_net.weight      (H*Dh, d_model)
//   dec_attn.kv_net.weight     (2*H*Dh, d_model)    k rows, then v rows
//   dec_attn.o_net.weight      (d_model, H*Dh)
//   dec_attn.layer_norm.weight, .bias      (d_model)
//   pos_ff.CoreNet.0.weight (d_inner, d_model), .bias (d_inner)
//   pos_ff.CoreNet.3.weight (d_model, d_inner), .bias (d_model)
//   pos_ff.layer_norm.weight, .bias        (d_model)

#include <memory>

#include "core/nn/dropout.h"
#include "core/nn/layer_norm.h"
#include "core/nn/linear.h"
#include "models/attention/multi_head_attention.h"
#include "models/transformer_lm/transformer_lm_config.h"

namespace ff::models {

// The reference's MultiHeadAttn: attention, output dropout, residual and LayerNorm in one
// module, so its LayerNorm is named dec_attn.layer_norm.
class DecoderAttention : public MultiHeadAttention {
 public:
  DecoderAttention(const TransformerLmConfig& config, Generator& gen, DType dtype);
  // maps: see MultiHeadAttention::forward.
  Tensor forward_block(const Tensor& x, const Tensor& memory, Tensor* maps);

  std::shared_ptr<nn::LayerNorm> layer_norm;
  std::shared_ptr<nn::Dropout> drop;
};

class PositionwiseFF : public nn::Module {
 public:
  PositionwiseFF(const TransformerLmConfig& config, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x);

  std::shared_ptr<nn::Linear> fc1, fc2;  // CoreNet.0, CoreNet.3
  std::shared_ptr<nn::LayerNorm> layer_norm;
  std::shared_ptr<nn::Dropout> drop;
};

class DecoderLayer : public nn::Module {
 public:
  DecoderLayer(const TransformerLmConfig& config, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x, const Tensor& memory, Tensor* maps = nullptr);

  std::shared_ptr<DecoderAttention> dec_attn;
  std::shared_ptr<PositionwiseFF> pos_ff;
};

}  // namespace ff::models
