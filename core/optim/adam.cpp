#include "core/optim/adam.h"

#include "core/ops/dispatch.h"
#include "kernels/optimizer.h"

namespace ff::optim {

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options) : Adam(std::move(groups), options, false) {}

Adam::Adam(std::vector<Tensor> params, double lr, double weight_decay, AdamOptions options)
    : Adam({ParamGroup{.params = std::move(params), .lr = lr, .weight_decay = weight_decay}}, options, false) {}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options, bool decoupled)
    : Optimizer(std::move(groups)), options_(options), decoupled_(decoupled) {
  FF_USER_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1,
                "Adam betas must be in [0, 1), got ({}, {})", options.beta1, options.beta2);
  FF_USER_CHECK(options.eps >= 0, "Adam eps must be >= 0, got {}", options.eps);
  add_state_slot("exp_avg");     // slot 0: m
  add_state_slot("exp_avg_sq");  // slot 1: v
  correction_ = Tensor::zeros({2}, DType::F64, step_.device());
}

void Adam::step(const Tensor& control) {
  check_control(control);
  dispatch<kernels::kOptimizerDTypes>("Adam", step_, DType::F32, [&]<typename>(auto exec) {
    adam_advance(exec, step_.data<double>(), correction_.data<double>(), control.data<float>(), options_.beta1,
                 options_.beta2);
  });
  for_each_param_with_grad([&](const ParamGroup& group, Tensor& p, size_t i) {
    Tensor g = p.grad();
    Tensor& m = state(0, i);
    Tensor& v = state(1, i);
    FF_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype() && g.device() == p.device() && g.is_contiguous(),
             "parameter {} ({}) has a gradient {} that does not match it", i, p.str(), g.str());
    FF_CHECK(m.device() == p.device(), "parameter {} moved to {} after the optimizer was built on {}", i,
             p.device().str(), m.device().str());
    dispatch<kernels::kOptimizerDTypes>("Adam", p, [&]<typename T>(auto exec) {
      const kernels::AdamHyper<T> hyper{T(group.lr), T(options_.beta1), T(options_.beta2), T(options_.eps),
                                        T(group.effective_weight_decay()), decoupled_};
      adam<T>(exec, p.data<T>(), g.data<T>(), m.data<T>(), v.data<T>(), p.numel(), hyper, control.data<float>(),
              correction_.data<double>());
    });
  });
}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamOptions options) : Adam(std::move(groups), options, true) {}

AdamW::AdamW(std::vector<Tensor> params, double lr, double weight_decay, AdamOptions options)
    : Adam({ParamGroup{.params = std::move(params), .lr = lr, .weight_decay = weight_decay}}, options, true) {}

}  // namespace ff::optim
