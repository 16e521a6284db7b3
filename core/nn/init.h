#pragma once
// Parameter initialisers: in place, never recorded by autograd, random ones drawing from the
// run's Generator (one Philox state per call, so a seed gives the same weights on CPU and CUDA).
// They take the parameter tensor itself (a leaf that requires grad) and return it.

#include "core/random/generator.h"
#include "core/tensor/tensor.h"

namespace ff::nn::init {

Tensor& uniform_(Tensor& param, double lo, double hi, Generator& gen);
Tensor& normal_(Tensor& param, double mean, double std, Generator& gen);
// N(mean, std^2) restricted to the absolute bounds [a, b] (timm's trunc_normal_; ViT and DeiT
// use std = 0.02, a = -2, b = 2, which in practice is an untruncated normal).
Tensor& trunc_normal_(Tensor& param, double mean, double std, double a, double b, Generator& gen);
Tensor& constant_(Tensor& param, double value);
Tensor& zeros_(Tensor& param);
Tensor& ones_(Tensor& param);

// fan_in of a weight laid out (out, in, ...): the product of all dims but the first.
int64_t fan_in(const Tensor& weight);

}  // namespace ff::nn::init
