#include "core/nn/init.h"

#include "core/autograd/autograd.h"
#include "core/ops/elementwise.h"

namespace ff::nn::init {

Tensor& uniform_(Tensor& param, double lo, double hi, Generator& gen) {
  NoGradGuard no_grad;
  ff::uniform_(param, lo, hi, gen);
  return param;
}

Tensor& normal_(Tensor& param, double mean, double std, Generator& gen) {
  NoGradGuard no_grad;
  ff::normal_(param, mean, std, gen);
  return param;
}

Tensor& trunc_normal_(Tensor& param, double mean, double std, double a, double b, Generator& gen) {
  NoGradGuard no_grad;
  ff::trunc_normal_(param, mean, std, a, b, gen);
  return param;
}

Tensor& constant_(Tensor& param, double value) {
  NoGradGuard no_grad;
  fill_(param, value);
  return param;
}

Tensor& zeros_(Tensor& param) { return constant_(param, 0.0); }
Tensor& ones_(Tensor& param) { return constant_(param, 1.0); }

int64_t fan_in(const Tensor& weight) {
  FF_CHECK(weight.dim() >= 2, "fan_in needs a weight with at least 2 dims, got {}", weight.str());
  return weight.numel() / weight.size(0);
}

}  // namespace ff::nn::init
