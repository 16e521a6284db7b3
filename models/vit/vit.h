#pragma once
// Vision Transformer as DeiT trains it (timm's VisionTransformer, as the paper's DeiT-tiny):
//
//   x (B, C, S, S) -> patch_embed: conv P x P, stride P -> (B, N, E)      N = (S / P)^2
//   [cls_token; tokens] + pos_embed -> Dropout                         -> (B, N + 1, E)
//   depth x pre-LN block:
//     h = h + DropPath(proj(Attention(qkv(LayerNorm(h)))))               norm1, attn
//     h = h + DropPath(fc2(Dropout(GELU(fc1(LayerNorm(h))))))           norm2, mlp
//   LayerNorm -> the cls token's row -> head                            -> (B, num_classes)
//
// Attention is softmax, Fourier (models/attention: R init 1.0 for DeiT) or FLT (a learned 2-D
// relative-position mask over patch coordinates, the cls token at the grid's centre:
// models/attention/fourier_learner.h), never causal. Drop
// path rates rise linearly from 0 to drop_path over the blocks. Parameter names are timm's, so
// checkpoints exchange with timm's deit_tiny_patch16_224:
//   cls_token (1, 1, E)   pos_embed (1, N + 1, E)   patch_embed.proj.weight (E, C, P, P), .bias (E)
//   blocks.<i>.norm1.{weight,bias}   blocks.<i>.attn.qkv.{weight (3E, E), bias}   (q, k, v rows)
//   blocks.<i>.attn.proj.{weight,bias}   blocks.<i>.attn.R (Fourier only: (1) or (E / heads))
//   blocks.<i>.attn.flt.* (flt only: the mask's mixture and the frequency buffers)
//   blocks.<i>.norm2.{weight,bias}   blocks.<i>.mlp.fc1.{weight,bias}   blocks.<i>.mlp.fc2.{...}
//   norm.{weight,bias}   head.{weight (classes, E), bias}
// Initialisation as timm 0.3 (DeiT's version): Linear weights trunc_normal(0.02) and zero
// biases, LayerNorms ones and zeros, pos_embed and cls_token trunc_normal(0.02), the patch
// convolution PyTorch's default (uniform in +-1/sqrt(C P P)).

#include <memory>
#include <string>
#include <vector>

#include "core/nn/conv2d_patch.h"
#include "core/nn/drop_path.h"
#include "core/nn/dropout.h"
#include "core/nn/layer_norm.h"
#include "core/nn/linear.h"
#include "core/nn/module.h"
#include "models/attention/multi_head_attention.h"

namespace ff::models {

struct VitConfig {
  int64_t image_size = 224;
  int64_t patch_size = 16;
  int64_t in_chans = 3;
  int64_t num_classes = 1000;
  int64_t embed_dim = 192;
  int64_t depth = 12;
  int64_t num_heads = 3;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  double dropout = 0.0;    // timm's drop_rate: after the position embedding, proj, fc1 and fc2
  double drop_path = 0.1;  // the last block's stochastic-depth rate
  double layer_norm_eps = 1e-6;
  double init_std = 0.02;
  AttentionConfig attention{.kind = "softmax", .p = 4, .eps = 1e-6, .R_init = 1.0, .R_per_dim = false};

  int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
};

// Throws ff::UserError naming `where` (the config section) for sizes that do not fit.
void validate(const VitConfig& config, const std::string& where);

// timm's Attention: one qkv projection (q, k, v rows), fused attention, output projection.
class VitAttention : public nn::Module {
 public:
  VitAttention(const VitConfig& config, Generator& gen, DType dtype);
  // x: (B, T, E) -> (B, T, E); maps as MultiHeadAttention::forward.
  Tensor forward(const Tensor& x, Tensor* maps = nullptr);

  std::shared_ptr<nn::Linear> qkv, proj;
  Tensor R;                                      // Fourier only
  std::shared_ptr<FourierLearnerAttention> flt;  // flt only

 private:
  int64_t heads_, head_dim_, grid_;
  AttentionConfig config_;
};

// timm's Mlp: fc1, GELU, Dropout, fc2, Dropout.
class VitMlp : public nn::Module {
 public:
  VitMlp(const VitConfig& config, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x);

  std::shared_ptr<nn::Linear> fc1, fc2;
  std::shared_ptr<nn::Dropout> drop;
};

// One pre-LN block.
class VitBlock : public nn::Module {
 public:
  VitBlock(const VitConfig& config, double drop_path, Generator& gen, DType dtype);
  // h: (B, T, E) -> (B, T, E); maps as MultiHeadAttention::forward.
  Tensor forward(const Tensor& h, Tensor* maps = nullptr);

  std::shared_ptr<nn::LayerNorm> norm1, norm2;
  std::shared_ptr<VitAttention> attn;
  std::shared_ptr<VitMlp> mlp;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::DropPath> drop_path;
};

class VisionTransformer : public nn::Module {
 public:
  // dtype: of every parameter (f64 for gradient checks).
  VisionTransformer(const VitConfig& config, Generator& gen, DType dtype = DType::F32);

  // images: (B, C, S, S) f32 -> logits (B, num_classes). When `maps` is given it receives one
  // (B, H, N + 1, N + 1) attention map per block (no gradient), for the head-redundancy metric.
  Tensor forward(const Tensor& images, std::vector<Tensor>* maps = nullptr);

  const VitConfig& config() const { return config_; }
  // flt attention: the frequencies of training step `step` in every block
  // (FourierLearnerAttention::set_step); nothing for the other kinds.
  void set_step(int64_t step);
  // The learned R of each block (Fourier attention), first element when R is per-dimension.
  std::vector<double> fourier_R() const;

  Tensor cls_token, pos_embed;
  std::shared_ptr<nn::Conv2dPatch> patch_proj;  // patch_embed.proj
  std::vector<std::shared_ptr<VitBlock>> blocks;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> head;
  std::shared_ptr<nn::Dropout> pos_drop;

 private:
  VitConfig config_;
};

}  // namespace ff::models
