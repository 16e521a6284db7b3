#pragma once
// SGD with momentum, as torch.optim.SGD. With g the gradient, t the step (1 first):
//   g <- g + wd * p
//   if momentum != 0:
//     b <- g                                  (t = 1)
//     b <- momentum * b + (1 - dampening) * g (t > 1)
//     g <- nesterov ? g + momentum * b : b
//   p <- p - lr * g

#include "core/optim/optimizer.h"

namespace ff::optim {

struct SgdOptions {
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, SgdOptions options = {});
  SGD(std::vector<Tensor> params, double lr, double weight_decay = 0.0, SgdOptions options = {});

  using Optimizer::step;
  void step(const Tensor& control) override;
  const SgdOptions& options() const { return options_; }

 private:
  SgdOptions options_;
};

}  // namespace ff::optim
