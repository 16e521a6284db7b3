#pragma once
// Multi-head attention with a softmax or a Fourier score (the paper's attention), exact or
// estimated with random features (fourier_rf: linear in N), RFA's random-feature softmax (rfa:
// linear in N), or FourierLearner attention (flt: linear attention with a learned
// relative-position mask), selected by config. Projections as in the reference Transformer-XL
// code: q from the segment, k and v from [memory, segment] through one fused projection.
//
//   x: (B, T, d_model)   memory: (B, M, d_model) or undefined   ->   (B, T, d_model)
//
// Parameters (checkpoint keys below the module's name):
//   q_net.weight  (H*Dh, d_model)     kv_net.weight (2*H*Dh, d_model): k rows, then v rows
//   o_net.weight  (d_model, H*Dh)     [.bias of each when `bias`]
//   R             (1) or (Dh)         fourier, fourier_rf: the learnable scale of the sinc argument;
//                                     rfa: the learnable inverse width (R^2 the softmax temperature)
//   freqs         (features, Dh)      fourier_rf and rfa, a buffer: the random frequencies before R,
//                                     drawn from (seed, layer, step / redraw_interval)
//   flt.*                             flt only: see models/attention/fourier_learner.h

#include <memory>
#include <string>

#include "core/nn/linear.h"
#include "core/nn/module.h"
#include "core/ops/attention.h"
#include "models/attention/fourier_learner.h"

namespace ff::models {

struct AttentionConfig {
  std::string kind = "softmax";  // softmax | fourier | fourier_rf | rfa | flt
  int p = 4;                     // Fourier: even power of sinc
  double eps = 1e-6;             // Fourier: the reference's denominator term
  double R_init = 2.0;           // Fourier: initial R (2.0 for the LM, 1.0 for DeiT)
  bool R_per_dim = false;        // Fourier: one R per head dimension instead of one per layer
  int features = 256;            // fourier_rf, rfa: random frequencies m (2m features per token);
                                 // flt: positive random features m of the softmax kernel
  int64_t redraw_interval = 0;   // fourier_rf, rfa, flt: new frequencies every this many steps; 0: fixed per run
  double den_floor = 0.1;        // fourier_rf, rfa, flt: |estimated kernel sum| kept >= this, sign kept
  int position_features = 16;    // flt: frequencies s of the mask estimate (2s features per position)
  int components = 4;            // flt: Gaussians K in the mask's spectral density

  // fourier_rf and rfa: features of q and k through one (features, Dh) frequency buffer and R.
  bool is_random_feature() const { return kind == "fourier_rf" || kind == "rfa"; }
  // The linear kinds, which never form the (T, M + T) maps.
  bool is_linear() const { return is_random_feature() || kind == "flt"; }
  bool has_R() const { return kind == "fourier" || is_random_feature(); }
};

// The default of `features` for a kind (the configs' default): 256 for fourier_rf, 32 for flt
// (whose features are m * 2 * position_features wide).
int default_features(const std::string& kind);

// Checks the keys; throws ff::UserError naming `where` (a config path) otherwise.
void validate(const AttentionConfig& config, const std::string& where);
// flt's keys of `config`.
FltConfig flt_config(const AttentionConfig& config);

class MultiHeadAttention : public nn::Module {
 public:
  MultiHeadAttention(int64_t d_model, int64_t n_head, int64_t d_head, const AttentionConfig& config, Generator& gen,
                     bool bias = false, DType dtype = DType::F32);

  // causal: query t sees memory and segment positions <= t. When `maps` is given, it receives
  // the normalised attention weights (B, H, T, M + T), without gradient.
  Tensor forward(const Tensor& x, const Tensor& memory, bool causal, Tensor* maps = nullptr);

  bool is_fourier() const { return score_ == kernels::AttentionScore::Fourier; }
  bool is_random_feature() const { return config_.is_random_feature(); }

  // fourier_rf, rfa and flt with redraw_interval K > 0: the frequencies of training step `step` (0-based) are
  // those of period step / K, drawn again when the period changes. Depends on nothing but
  // (seed, layer, step / K), so a resumed run draws what the uninterrupted one drew.
  void set_step(int64_t step);

  int64_t n_head, d_head;
  std::shared_ptr<nn::Linear> q_net, kv_net, o_net;
  Tensor R;      // fourier, fourier_rf and rfa
  Tensor freqs;  // fourier_rf and rfa
  std::shared_ptr<FourierLearnerAttention> flt;  // flt only

 private:
  // The kind's (features, Dh) frequencies of redraw period `period`.
  Tensor frequencies(int64_t period, DType dtype, Device device) const;
  void draw_frequencies(int64_t period);

  kernels::AttentionScore score_;
  AttentionConfig config_;
  uint64_t freq_seed_ = 0;  // random-feature kinds: the Philox key of this layer's frequencies
  int64_t period_ = 0;      // random-feature kinds: the redraw period `freqs` belongs to
};

}  // namespace ff::models
