#pragma once
// Adam (L2 weight decay added to the gradient, as torch.optim.Adam) and AdamW (decoupled
// decay p <- p - lr * wd * p, as torch.optim.AdamW), both with bias correction. The update is
// one fused kernel per parameter (kernels/optimizer.h has the formula). Weight decay comes from each
// group (0 for no_decay groups); betas and eps are shared by all groups.

#include "core/optim/optimizer.h"

namespace ff::optim {

struct AdamOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions options = {});
  // One group over `params`.
  Adam(std::vector<Tensor> params, double lr, double weight_decay = 0.0, AdamOptions options = {});

  using Optimizer::step;
  void step(const Tensor& control) override;
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(std::vector<ParamGroup> groups, AdamOptions options, bool decoupled);

 private:
  AdamOptions options_;
  bool decoupled_;
  Tensor correction_;  // (2) f64: 1 / bc1, 1 / sqrt(bc2) of the current step
};

class AdamW : public Adam {
 public:
  // torch.optim.AdamW's defaults: weight_decay 0.01 for the single-group form.
  AdamW(std::vector<ParamGroup> groups, AdamOptions options = {});
  AdamW(std::vector<Tensor> params, double lr, double weight_decay = 0.01, AdamOptions options = {});
};

}  // namespace ff::optim
