#include "models/attention/multi_head_attention.h"

#include "core/ops/ops.h"

namespace ff::models {

int default_features(const std::string& kind) { return kind == "flt" ? 32 : 256; }

void validate(const AttentionConfig& c, const std::string& where) {
  FF_USER_CHECK(c.kind == "softmax" || c.kind == "fourier" || c.is_linear(),
                "{}.kind: expected softmax, fourier, fourier_rf, rfa or flt, got '{}'", where, c.kind);
  FF_USER_CHECK(c.p >= 2 && c.p % 2 == 0, "{}.p: expected an even power >= 2, got {}", where, c.p);
  FF_USER_CHECK(c.eps >= 0, "{}.eps: expected >= 0, got {}", where, c.eps);
  FF_USER_CHECK(c.R_init > 0, "{}.R_init: expected > 0, got {}", where, c.R_init);
  FF_USER_CHECK(c.features >= 1, "{}.features: expected >= 1, got {}", where, c.features);
  FF_USER_CHECK(c.redraw_interval >= 0, "{}.redraw_interval: expected >= 0 (0: fixed per run), got {}", where,
                c.redraw_interval);
  FF_USER_CHECK(c.den_floor > 0, "{}.den_floor: expected > 0, got {}", where, c.den_floor);
  FF_USER_CHECK(c.position_features >= 1, "{}.position_features: expected >= 1, got {}", where, c.position_features);
  FF_USER_CHECK(c.components >= 1, "{}.components: expected >= 1, got {}", where, c.components);
}

FltConfig flt_config(const AttentionConfig& c) {
  return {.features = c.features,
          .position_features = c.position_features,
          .components = c.components,
          .redraw_interval = c.redraw_interval};
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
    freq_seed_ = stream_key(gen.next());  // one stream per layer, in construction order
    freqs = frequencies(0, dtype, Device::cpu());
    register_buffer("freqs", freqs);
  }
  if (config.kind == "flt")
    flt = register_module(
        "flt", std::make_shared<FourierLearnerAttention>(n_head, d_head, 1, flt_config(config), gen, dtype));
}

void MultiHeadAttention::set_step(int64_t step) {
  if (flt) flt->set_step(step);
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

  if (config_.is_linear()) {
    FF_USER_CHECK(maps == nullptr, "attention maps (eval.head_diversity_segments) are not available for {} "
                                   "attention: it never forms the (T, M + T) weights", config_.kind);
    LinearAttentionOptions o{.causal = causal, .eps = config_.eps, .floor = config_.den_floor};
    Tensor out;  // (B, H, T, Dh) contiguous
    if (flt) {
      // Memory keys first: key j at position j, query t at M + t.
      const Tensor& pos = flt->positions(false, Nk, q.dtype(), q.device());
      out = flt->forward(q, k, v, narrow(pos, 0, Nk - T, T), pos, o);
    } else if (config_.kind == "rfa") {
      out = rfa_attention(q, k, v, freqs, R, o);
    } else {
      out = fourier_rf_attention(q, k, v, freqs, R, o);
    }
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
