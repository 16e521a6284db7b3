#include "models/attention/multi_head_attention.h"

#include "core/ops/ops.h"

namespace ff::models {

namespace {

// splitmix64's finaliser: distinct (seed, offset) pairs give unrelated Philox keys.
uint64_t mix_key(uint64_t seed, uint64_t offset) {
  uint64_t x = seed ^ (0x9E3779B97F4A7C15ull * (offset + 1));
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

void validate(const AttentionConfig& c, const std::string& where) {
  FF_USER_CHECK(c.kind == "softmax" || c.kind == "fourier" || c.is_random_feature(),
                "{}.kind: expected softmax, fourier, fourier_rf or rfa, got '{}'", where, c.kind);
  FF_USER_CHECK(c.p >= 2 && c.p % 2 == 0, "{}.p: expected an even power >= 2, got {}", where, c.p);
  FF_USER_CHECK(c.eps >= 0, "{}.eps: expected >= 0, got {}", where, c.eps);
  FF_USER_CHECK(c.R_init > 0, "{}.R_init: expected > 0, got {}", where, c.R_init);
  FF_USER_CHECK(c.features >= 1, "{}.features: expected >= 1, got {}", where, c.features);
  FF_USER_CHECK(c.redraw_interval >= 0, "{}.redraw_interval: expected >= 0 (0: fixed per run), got {}", where,
                c.redraw_interval);
  FF_USER_CHECK(c.den_floor > 0, "{}.den_floor: expected > 0, got {}", where, c.den_floor);
}

MultiHeadAttention::MultiHeadAttention(int64_t d_model, int64_t n_head_, int64_t d_head_,
                                       const AttentionConfig& config, Generator& gen, bool bias, DType dtype)
    : n_head(n_head_), d_head(d_head_), config_(config) {
  validate(config, "attention");
  score_ = config.kind == "fourier" ? kernels::AttentionScore::Fourier : kernels::AttentionScore::Dot;
  q_net = register_module("q_net", std::make_shared<nn::Linear>(d_model, n_head * d_head, gen, bias, dtype));
  kv_net = register_module("kv_net", std::make_shared<nn::Linear>(d_model, 2 * n_head * d_head, gen, bias, dtype));
  o_net = register_module("o_net", std::make_shared<nn::Linear>(n_head * d_head, d_model, gen, bias, dtype));
  if (config.has_R()) {
    R = Tensor::full({config.R_per_dim ? d_head : 1}, config.R_init, dtype);
    register_parameter("R", R);
  }
  if (is_random_feature()) {
    const kernels::PhiloxState layer = gen.next();  // one stream per layer, in construction order
    freq_seed_ = mix_key(layer.seed, layer.offset);
    freqs = frequencies(0, dtype, Device::cpu());
    register_buffer("freqs", freqs);
  }
}

void MultiHeadAttention::set_step(int64_t step) {
  if (!is_random_feature() || config_.redraw_interval == 0) return;
  const int64_t period = step / config_.redraw_interval;
  if (period != period_) draw_frequencies(period);
}

Tensor MultiHeadAttention::frequencies(int64_t period, DType dtype, Device device) const {
  const kernels::PhiloxState state{freq_seed_, uint64_t(period)};
  if (config_.kind == "rfa") return gaussian_frequencies(config_.features, d_head, state, dtype, device);
  return sinc_frequencies(config_.features, d_head, config_.p, state, dtype, device);
}

void MultiHeadAttention::draw_frequencies(int64_t period) {
  copy_(freqs, frequencies(period, freqs.dtype(), freqs.device()));
  period_ = period;
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

  if (is_random_feature()) {
    FF_USER_CHECK(maps == nullptr, "attention maps (eval.head_diversity_segments) are not available for {} "
                                   "attention: it never forms the (T, M + T) weights", config_.kind);
    LinearAttentionOptions o{.causal = causal, .eps = config_.eps, .floor = config_.den_floor};
    // (B, H, T, Dh) contiguous
    Tensor out = config_.kind == "rfa" ? rfa_attention(q, k, v, freqs, R, o) : fourier_rf_attention(q, k, v, freqs, R, o);
    return o_net->forward(reshape(permute(out, {0, 2, 1, 3}), {B, T, n_head * d_head}));
  }

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
