#include "models/attention/fourier_learner.h"

#include <cmath>
#include <vector>

#include "core/ops/ops.h"

namespace ff::models {

FourierLearnerAttention::FourierLearnerAttention(int64_t n_head, int64_t d_head, int64_t position_dims,
                                                 const FltConfig& config, Generator& gen, DType dtype)
    : config_(config) {
  FF_CHECK(n_head >= 1 && d_head >= 1 && position_dims >= 1 && config.features >= 1 && config.position_features >= 1 &&
               config.components >= 1 && config.redraw_interval >= 0,
           "FourierLearnerAttention: heads {}, head dim {}, position dims {}, features {}, position_features {}, "
           "components {}, redraw_interval {}",
           n_head, d_head, position_dims, config.features, config.position_features, config.components,
           config.redraw_interval);
  const int64_t K = config.components;
  register_parameter("mixture_logits", mixture_logits = Tensor::zeros({n_head, K}, dtype));
  register_parameter("mixture_means", mixture_means = Tensor::zeros({n_head, K, position_dims}, dtype));
  std::vector<double> log_scales(n_head * K);
  for (int64_t i = 0; i < n_head * K; ++i) log_scales[i] = -double(i % K) * std::log(2.0);
  register_parameter("mixture_log_scales",
                     mixture_log_scales = to_dtype(Tensor::from_vector<double>(log_scales, {n_head, K}), dtype));
  seed_ = stream_key(gen.next());  // one stream per layer, in construction order
  freqs = Tensor::empty({config.features, d_head}, dtype);
  position_freqs = Tensor::empty({config.position_features, position_dims}, dtype);
  register_buffer("freqs", freqs);
  register_buffer("position_freqs", position_freqs);
  draw_frequencies(0);
}

void FourierLearnerAttention::set_step(int64_t step) {
  if (config_.redraw_interval == 0) return;
  const int64_t period = step / config_.redraw_interval;
  if (period != period_) draw_frequencies(period);
}

void FourierLearnerAttention::draw_frequencies(int64_t period) {
  // Two fills per period: counters 2 period (the features) and 2 period + 1 (the mask).
  const uint64_t counter = 2 * uint64_t(period);
  copy_(freqs, gaussian_frequencies(freqs.size(0), freqs.size(1), {seed_, counter}, freqs.dtype(), freqs.device()));
  copy_(position_freqs, gaussian_frequencies(position_freqs.size(0), position_freqs.size(1), {seed_, counter + 1},
                                             position_freqs.dtype(), position_freqs.device()));
  period_ = period;
}

Tensor FourierLearnerAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& q_positions,
                                        const Tensor& k_positions, const LinearAttentionOptions& options) const {
  const FltAttentionInputs in{.feature_freqs = freqs,
                              .position_freqs = position_freqs,
                              .q_positions = q_positions,
                              .k_positions = k_positions,
                              .mixture = mixture()};
  return flt_attention(q, k, v, in, options);
}

const Tensor& FourierLearnerAttention::positions(bool patches, int64_t n, DType dtype, Device device) {
  if (!positions_.defined() || positions_patches_ != patches || positions_n_ != n || positions_.dtype() != dtype ||
      positions_.device() != device) {
    positions_ = patches ? patch_positions(n, dtype, device) : sequence_positions(n, dtype, device);
    positions_patches_ = patches;
    positions_n_ = n;
  }
  return positions_;
}

Tensor sequence_positions(int64_t n, DType dtype, Device device) {
  std::vector<double> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = double(i);
  return to_device(to_dtype(Tensor::from_vector<double>(p, {n, 1}), dtype), device);
}

Tensor patch_positions(int64_t grid, DType dtype, Device device) {
  const double centre = double(grid - 1) / 2;
  std::vector<double> p{centre, centre};  // the cls token
  for (int64_t i = 0; i < grid * grid; ++i) {
    p.push_back(double(i / grid));
    p.push_back(double(i % grid));
  }
  return to_device(to_dtype(Tensor::from_vector<double>(p, {grid * grid + 1, 2}), dtype), device);
}

}  // namespace ff::models
