#include "models/transformer_lm/decoder_layer.h"

#include "core/ops/ops.h"

namespace ff::models {

namespace {
// `CoreNet`: the reference's nn.Sequential(Linear, ReLU, Dropout, Linear, Dropout); only the
// two Linear layers (indices 0 and 3) hold parameters.
class CoreNet : public nn::Module {
 public:
  CoreNet(std::shared_ptr<nn::Linear> fc1, std::shared_ptr<nn::Linear> fc2) {
    register_module("0", std::move(fc1));
    register_module("3", std::move(fc2));
  }
};
}  // namespace

DecoderAttention::DecoderAttention(const TransformerLmConfig& c, Generator& gen, DType dtype)
    : MultiHeadAttention(c.d_model, c.n_head, c.d_head, c.attention, gen, /*bias=*/false, dtype) {
  layer_norm = register_module("layer_norm", std::make_shared<nn::LayerNorm>(c.d_model, c.layer_norm_eps, true, dtype));
  drop = register_module("drop", std::make_shared<nn::Dropout>(c.dropout, gen));
}

Tensor DecoderAttention::forward_block(const Tensor& x, const Tensor& memory, Tensor* maps) {
  return layer_norm->forward(x + drop->forward(forward(x, memory, /*causal=*/true, maps)));
}

PositionwiseFF::PositionwiseFF(const TransformerLmConfig& c, Generator& gen, DType dtype) {
  fc1 = std::make_shared<nn::Linear>(c.d_model, c.d_inner, gen, true, dtype);
  fc1->activation = Activation::ReLU;  // W1 h + b1 and the ReLU in one GEMM epilogue
  fc2 = std::make_shared<nn::Linear>(c.d_inner, c.d_model, gen, true, dtype);
  register_module("CoreNet", std::make_shared<CoreNet>(fc1, fc2));
  layer_norm = register_module("layer_norm", std::make_shared<nn::LayerNorm>(c.d_model, c.layer_norm_eps, true, dtype));
  drop = register_module("drop", std::make_shared<nn::Dropout>(c.dropout, gen));
}

Tensor PositionwiseFF::forward(const Tensor& x) {
  Tensor core = drop->forward(fc2->forward(drop->forward(fc1->forward(x))));
  return layer_norm->forward(x + core);
}

DecoderLayer::DecoderLayer(const TransformerLmConfig& c, Generator& gen, DType dtype) {
  dec_attn = register_module("dec_attn", std::make_shared<DecoderAttention>(c, gen, dtype));
  pos_ff = register_module("pos_ff", std::make_shared<PositionwiseFF>(c, gen, dtype));
}

Tensor DecoderLayer::forward(const Tensor& x, const Tensor& memory, Tensor* maps) {
  return pos_ff->forward(dec_attn->forward_block(x, memory, maps));
}

}  // namespace ff::models
