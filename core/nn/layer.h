#pragma once
// A module with one tensor in and one out: what Sequential chains.

#include "core/nn/module.h"

namespace ff::nn {

class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

}  // namespace ff::nn
