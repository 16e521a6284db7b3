#pragma once
// Dropout: x: (...) -> (...), identity in eval mode or with p = 0.
//
// Randomness: the module keeps a reference to the run's Generator, given at construction (the
// trainer owns one Generator per run; it must outlive the model, and a checkpoint restore sets
// its state in place). Every training-mode forward with p > 0 takes one Philox state from it.

#include "core/nn/layer.h"
#include "core/random/generator.h"

namespace ff::nn {

class Dropout : public UnaryModule {
 public:
  Dropout(double p, Generator& gen);
  Tensor forward(const Tensor& x) override;

  double p;

 private:
  Generator* gen_;
};

}  // namespace ff::nn
