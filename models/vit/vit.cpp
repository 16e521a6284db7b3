#include "models/vit/vit.h"

#include <fmt/format.h>

#include "core/nn/init.h"
#include "core/ops/ops.h"

namespace ff::models {

namespace {

// timm 0.3's _init_weights for a Linear: trunc_normal(std) weight, zero bias.
void init_linear(nn::Linear& l, double std, Generator& gen) {
  nn::init::trunc_normal_(l.weight, 0.0, std, -2.0, 2.0, gen);
  if (l.bias.defined()) nn::init::zeros_(l.bias);
}

// A named container, so that checkpoint keys read patch_embed.proj.weight as in timm.
class Container : public nn::Module {
 public:
  template <typename M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> m) {
    return register_module(name, std::move(m));
  }
};

}  // namespace

void validate(const VitConfig& c, const std::string& where) {
  FF_USER_CHECK(c.patch_size >= 1 && c.image_size >= c.patch_size && c.image_size % c.patch_size == 0,
                "{}: image_size {} must be a multiple of patch_size {}", where, c.image_size, c.patch_size);
  FF_USER_CHECK(c.in_chans >= 1, "{}.in_chans: expected >= 1, got {}", where, c.in_chans);
  FF_USER_CHECK(c.num_classes >= 2, "{}.num_classes: expected >= 2, got {}", where, c.num_classes);
  FF_USER_CHECK(c.num_heads >= 1 && c.embed_dim % c.num_heads == 0,
                "{}: embed_dim {} must be divisible by num_heads {}", where, c.embed_dim, c.num_heads);
  FF_USER_CHECK(c.depth >= 1, "{}.depth: expected >= 1, got {}", where, c.depth);
  FF_USER_CHECK(c.mlp_ratio > 0 && static_cast<int64_t>(c.embed_dim * c.mlp_ratio) >= 1,
                "{}.mlp_ratio: expected > 0, got {}", where, c.mlp_ratio);
  validate(c.attention, where + ".attention");
  FF_USER_CHECK(!c.attention.is_random_feature(), "{}.attention.kind: expected softmax, fourier or flt (fourier_rf and "
                "rfa are for the language model only, so far), got '{}'", where, c.attention.kind);
}

VitAttention::VitAttention(const VitConfig& c, Generator& gen, DType dtype)
    : heads_(c.num_heads),
      head_dim_(c.embed_dim / c.num_heads),
      grid_(c.image_size / c.patch_size),
      config_(c.attention) {
  qkv = register_module("qkv", std::make_shared<nn::Linear>(c.embed_dim, 3 * c.embed_dim, gen, c.qkv_bias, dtype));
  proj = register_module("proj", std::make_shared<nn::Linear>(c.embed_dim, c.embed_dim, gen, true, dtype));
  init_linear(*qkv, c.init_std, gen);
  init_linear(*proj, c.init_std, gen);
  if (config_.kind == "fourier")
    register_parameter("R", R = Tensor::full({config_.R_per_dim ? head_dim_ : 1}, config_.R_init, dtype));
  if (config_.kind == "flt")
    flt = register_module(
        "flt", std::make_shared<FourierLearnerAttention>(heads_, head_dim_, 2, flt_config(config_), gen, dtype));
}

Tensor VitAttention::forward(const Tensor& x, Tensor* maps) {
  FF_CHECK(x.dim() == 3, "ViT attention input must be (B, T, E), got {}", x.str());
  const int64_t B = x.size(0), T = x.size(1);
  // (B, T, 3E) -> q, k, v (B, H, T, Dh) as views of the (B, T, 3, H, Dh) projection.
  Tensor qkv5 = reshape(qkv->forward(x), {B, T, 3, heads_, head_dim_});
  Tensor q = permute(select(qkv5, 2, 0), {0, 2, 1, 3});
  Tensor k = permute(select(qkv5, 2, 1), {0, 2, 1, 3});
  Tensor v = permute(select(qkv5, 2, 2), {0, 2, 1, 3});
  if (flt) {
    FF_USER_CHECK(maps == nullptr,
                  "attention maps are not available for flt attention: it never forms the (T, T) weights");
    FF_CHECK(T == grid_ * grid_ + 1, "ViT flt attention: {} tokens for a {}x{} grid and the cls token", T, grid_,
             grid_);
    const Tensor& pos = flt->positions(true, grid_, q.dtype(), q.device());
    const LinearAttentionOptions o{.causal = false, .eps = config_.eps, .floor = config_.den_floor};
    Tensor out = flt->forward(q, k, v, pos, pos, o);  // (B, H, T, Dh) contiguous
    return proj->forward(reshape(permute(out, {0, 2, 1, 3}), {B, T, heads_ * head_dim_}));
  }
  AttentionOptions options;
  options.causal = false;
  if (config_.kind == "fourier") {
    options.score = kernels::AttentionScore::Fourier;
    options.R = R;
    options.p = config_.p;
    options.eps = config_.eps;
  }
  Tensor out = attention(q, k, v, options, maps);  // (B, H, T, Dh) over a (B, T, H, Dh) buffer
  return proj->forward(reshape(permute(out, {0, 2, 1, 3}), {B, T, heads_ * head_dim_}));
}

VitMlp::VitMlp(const VitConfig& c, Generator& gen, DType dtype) {
  const int64_t hidden = static_cast<int64_t>(c.embed_dim * c.mlp_ratio);
  fc1 = register_module("fc1", std::make_shared<nn::Linear>(c.embed_dim, hidden, gen, true, dtype));
  fc2 = register_module("fc2", std::make_shared<nn::Linear>(hidden, c.embed_dim, gen, true, dtype));
  init_linear(*fc1, c.init_std, gen);
  init_linear(*fc2, c.init_std, gen);
  drop = register_module("drop", std::make_shared<nn::Dropout>(c.dropout, gen));
}

Tensor VitMlp::forward(const Tensor& x) { return drop->forward(fc2->forward(drop->forward(gelu(fc1->forward(x))))); }

VitBlock::VitBlock(const VitConfig& c, double drop_path_rate, Generator& gen, DType dtype) {
  norm1 = register_module("norm1", std::make_shared<nn::LayerNorm>(c.embed_dim, c.layer_norm_eps, true, dtype));
  attn = register_module("attn", std::make_shared<VitAttention>(c, gen, dtype));
  drop_path = register_module("drop_path", std::make_shared<nn::DropPath>(drop_path_rate, gen));
  norm2 = register_module("norm2", std::make_shared<nn::LayerNorm>(c.embed_dim, c.layer_norm_eps, true, dtype));
  mlp = register_module("mlp", std::make_shared<VitMlp>(c, gen, dtype));
  drop = register_module("drop", std::make_shared<nn::Dropout>(c.dropout, gen));
}

Tensor VitBlock::forward(const Tensor& h, Tensor* maps) {
  Tensor x = h + drop_path->forward(drop->forward(attn->forward(norm1->forward(h), maps)));
  return x + drop_path->forward(mlp->forward(norm2->forward(x)));
}

VisionTransformer::VisionTransformer(const VitConfig& c, Generator& gen, DType dtype) : config_(c) {
  validate(c, "model");
  const int64_t E = c.embed_dim;
  register_parameter("cls_token", cls_token = Tensor::zeros({1, 1, E}, dtype));
  register_parameter("pos_embed", pos_embed = Tensor::zeros({1, c.num_patches() + 1, E}, dtype));
  auto patch_embed = register_module("patch_embed", std::make_shared<Container>());
  patch_proj =
      patch_embed->add("proj", std::make_shared<nn::Conv2dPatch>(c.in_chans, E, c.patch_size, gen, true, dtype));
  pos_drop = register_module("pos_drop", std::make_shared<nn::Dropout>(c.dropout, gen));
  auto list = register_module("blocks", std::make_shared<Container>());
  for (int64_t i = 0; i < c.depth; ++i) {
    // Stochastic depth rising linearly: rate i / (depth - 1) of drop_path (torch.linspace).
    const double rate = c.depth > 1 ? c.drop_path * static_cast<double>(i) / static_cast<double>(c.depth - 1) : 0.0;
    blocks.push_back(list->add(std::to_string(i), std::make_shared<VitBlock>(c, rate, gen, dtype)));
  }
  norm = register_module("norm", std::make_shared<nn::LayerNorm>(E, c.layer_norm_eps, true, dtype));
  head = register_module("head", std::make_shared<nn::Linear>(E, c.num_classes, gen, true, dtype));
  init_linear(*head, c.init_std, gen);
  nn::init::trunc_normal_(pos_embed, 0.0, c.init_std, -2.0, 2.0, gen);
  nn::init::trunc_normal_(cls_token, 0.0, c.init_std, -2.0, 2.0, gen);
}

Tensor VisionTransformer::forward(const Tensor& images, std::vector<Tensor>* maps) {
  const VitConfig& c = config_;
  FF_CHECK(images.dim() == 4 && images.size(1) == c.in_chans && images.size(2) == c.image_size &&
               images.size(3) == c.image_size,
           "ViT input must be (B, {}, {}, {}), got {}", c.in_chans, c.image_size, c.image_size, images.str());
  const int64_t B = images.size(0), E = c.embed_dim;
  // (B, E, S/P, S/P) -> (B, N, E)
  Tensor tokens = transpose(reshape(patch_proj->forward(images), {B, E, c.num_patches()}), 1, 2);
  Tensor cls = expand(cls_token, {B, 1, E});
  Tensor h = pos_drop->forward(concat({cls, tokens}, 1) + pos_embed);
  if (maps) maps->clear();
  for (auto& block : blocks) {
    Tensor map;
    h = block->forward(h, maps ? &map : nullptr);
    if (maps) maps->push_back(map);
  }
  h = norm->forward(h);
  return head->forward(select(h, 1, 0));  // the cls token
}

void VisionTransformer::set_step(int64_t step) {
  for (const auto& b : blocks)
    if (b->attn->flt) b->attn->flt->set_step(step);
}

std::vector<double> VisionTransformer::fourier_R() const {
  std::vector<double> out;
  for (const auto& b : blocks)
    if (b->attn->R.defined()) out.push_back(b->attn->R.detach().to_vector<double>()[0]);
  return out;
}

}  // namespace ff::models
