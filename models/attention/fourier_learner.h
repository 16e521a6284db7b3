#pragma once
// FourierLearner-Transformer attention (core/ops/flt_attention.h; docs/kernels.md,
// "FourierLearner attention") as a module: the learned spectral density of each head's
// relative-position mask and the random frequencies of both estimates. The language model
// (multi_head_attention.h) and the ViT (vit.h) own one per layer and pass the token positions:
// 1-D sequence indices, or 2-D patch coordinates.
//
//   q (B, H, Nq, Dh), k, v (B, H, Nk, Dh), positions (Nq, d), (Nk, d)  ->  (B, H, Nq, Dh)
//
// Parameters and buffers (checkpoint keys below the module's name):
//   mixture_logits      (H, K)        pi = softmax: the Gaussians' weights, initially uniform
//   mixture_means       (H, K, d)     mu, initially 0
//   mixture_log_scales  (H, K)        log sigma, initially log 2^-k (masks k = 0..K-1 of widths 1, 2, 4, ...)
//   freqs               (m, Dh)       buffer: the positive features' N(0, I) frequencies
//   position_freqs      (s, d)        buffer: the mask's N(0, I) frequencies
// Both buffers are drawn from (seed, layer, step / redraw_interval): set_step as fourier_rf's.

#include <cstdint>
#include <memory>

#include "core/nn/module.h"
#include "core/ops/flt_attention.h"

namespace ff::models {

struct FltConfig {
  int features = 32;            // m: positive random features of the softmax kernel
  int position_features = 16;   // s: frequencies of the mask estimate
  int components = 4;           // K: Gaussians in the spectral density
  int64_t redraw_interval = 0;  // new frequencies every this many steps; 0: fixed per run
};

class FourierLearnerAttention : public nn::Module {
 public:
  // position_dims d: 1 for sequences, 2 for image patches. Takes one state of `gen`.
  FourierLearnerAttention(int64_t n_head, int64_t d_head, int64_t position_dims, const FltConfig& config,
                          Generator& gen, DType dtype = DType::F32);

  // (B, H, Nq, Dh) contiguous; positions in the dtype and on the device of q.
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& q_positions,
                 const Tensor& k_positions, const LinearAttentionOptions& options) const;

  // The frequencies of training step `step` (0-based): those of period step / redraw_interval,
  // drawn again when the period changes; nothing with redraw_interval 0.
  void set_step(int64_t step);

  // sequence_positions(n) (patches false) or patch_positions(n), built once per size, dtype and
  // device and kept, so a training step does not copy them to the device again.
  const Tensor& positions(bool patches, int64_t n, DType dtype, Device device);

  SpectralMixture mixture() const { return {mixture_logits, mixture_means, mixture_log_scales}; }

  Tensor mixture_logits, mixture_means, mixture_log_scales;
  Tensor freqs, position_freqs;

 private:
  void draw_frequencies(int64_t period);

  FltConfig config_;
  uint64_t seed_ = 0;   // the Philox key of this layer's frequencies
  int64_t period_ = 0;  // the redraw period the buffers belong to
  Tensor positions_;    // the last positions() built
  bool positions_patches_ = false;
  int64_t positions_n_ = -1;
};

// Positions as FLT reads them, in `dtype` on `device`:
//   sequence_positions(n):  (n, 1) = 0, 1, ..., n - 1
//   patch_positions(grid):  (grid^2 + 1, 2): the cls token first, at the grid's centre
//                           ((grid - 1) / 2, (grid - 1) / 2), then patch p at (p / grid, p % grid)
Tensor sequence_positions(int64_t n, DType dtype, Device device);
Tensor patch_positions(int64_t grid, DType dtype, Device device);

}  // namespace ff::models
