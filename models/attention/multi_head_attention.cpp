#include "models/attention/multi_head_attention.h"

#include "core/ops/ops.h"

namespace ff::models {

void validate(const AttentionConfig& c, const std::string& where) {
  FF_USER_CHECK(c.kind == "softmax" || c.kind == "fourier", "{}.kind: expected softmax or fourier, got '{}'", where,
                c.kind);
  FF_USER_CHECK(c.p >= 2 && c.p % 2 == 0, "{}.p: expected an even power >= 2, got {}", where, c.p);
  FF_USER_CHECK(c.eps >= 0, "{}.eps: expected >= 0, got {}", where, c.eps);
  FF_USER_CHECK(c.R_init > 0, "{}.R_init: expected > 0, got {}", where, c.R_init);
}

MultiHeadAttention::MultiHeadAttention(int64_t d_model, int64_t n_head_, int64_t d_head_,
                                       const AttentionConfig& config, Generator& gen, bool bias, DType dtype)
    : n_head(n_head_), d_head(d_head_), config_(config) {
  validate(config, "attention");
  score_ = config.kind == "fourier" ? kernels::AttentionScore::Fourier : kernels::AttentionScore::Dot;
  q_net = register_module("q_net", std::make_shared<nn::Linear>(d_model, n_head * d_head, gen, bias, dtype));
  kv_net = register_module("kv_net", std::make_shared<nn::Linear>(d_model, 2 * n_head * d_head, gen, bias, dtype));
  o_net = register_module("o_net", std::make_shared<nn::Linear>(n_head * d_head, d_model, gen, bias, dtype));
  if (is_fourier()) {
    R = Tensor::full({config.R_per_dim ? d_head : 1}, config.R_init, dtype);
    register_parameter("R", R);
  }
}

Tensor MultiHeadAttention::forward(const Tensor& x, const Tensor& memory, bool causal, Tensor* maps) {
  FF_CHECK(x.dim() == 3, "attention input must be (B, T, d_model), got {}", x.str());
  const int64_t B = x.size(0), T = x.size(1);
  Tensor context = memory.defined() ? concat({memory, x}, 1) : x;
  const int64_t Nk = context.size(1);

  // (B, T, H*Dh) -> (B, H, T, Dh) as a view of the (B, T, H, Dh) projection.
  Tensor q = permute(reshape(q_net->forward(x), {B, T, n_head, d_head}), {0, 2, 1, 3});
  Tensor kv = reshape(kv_net->forward(context), {B, Nk, 2, n_head, d_head});
  Tensor k = permute(select(kv, 2, 0), {0, 2, 1, 3});
  Tensor v = permute(select(kv, 2, 1), {0, 2, 1, 3});

  AttentionOptions options;
  options.score = score_;
  options.causal = causal;
  if (is_fourier()) {
    options.R = R;
    options.p = config_.p;
    options.eps = config_.eps;
  }
  Tensor out = attention(q, k, v, options, maps);  // (B, H, T, Dh) over a (B, T, H, Dh) buffer
  return o_net->forward(reshape(permute(out, {0, 2, 1, 3}), {B, T, n_head * d_head}));
}

}  // namespace ff::models
