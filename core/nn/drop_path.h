#pragma once
// Stochastic depth on a residual branch: x: (B, ...) -> (B, ...), each sample kept whole with
// probability 1 - p (scaled by 1 / (1 - p)) or zeroed; identity in eval mode or with p = 0.
// Holds a reference to the run's Generator, as Dropout (core/nn/dropout.h).

#include "core/nn/layer.h"
#include "core/random/generator.h"

namespace ff::nn {

class DropPath : public UnaryModule {
 public:
  DropPath(double p, Generator& gen);
  Tensor forward(const Tensor& x) override;

  double p;

 private:
  Generator* gen_;
};

}  // namespace ff::nn
