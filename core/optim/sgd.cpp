#include "core/optim/sgd.h"

#include "core/ops/dispatch.h"
#include "kernels/optimizer.h"

namespace ff::optim {

SGD::SGD(std::vector<ParamGroup> groups, SgdOptions options) : Optimizer(std::move(groups)), options_(options) {
  FF_USER_CHECK(options.momentum >= 0, "SGD momentum must be >= 0, got {}", options.momentum);
  FF_USER_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
                "Nesterov momentum needs momentum > 0 and dampening 0");
  if (options.momentum != 0) add_state_slot("momentum_buffer");
}

SGD::SGD(std::vector<Tensor> params, double lr, double weight_decay, SgdOptions options)
    : SGD({ParamGroup{.params = std::move(params), .lr = lr, .weight_decay = weight_decay}}, options) {}

void SGD::step(const Tensor& control) {
  check_control(control);
  dispatch<kernels::kOptimizerDTypes>("SGD", step_, DType::F32, [&]<typename>(auto exec) {
    advance_step(exec, step_.data<double>(), control.data<float>());
  });
  for_each_param_with_grad([&](const ParamGroup& group, Tensor& p, size_t i) {
    Tensor g = p.grad();
    FF_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype() && g.device() == p.device() && g.is_contiguous(),
             "parameter {} ({}) has a gradient {} that does not match it", i, p.str(), g.str());
    Tensor buffer = options_.momentum != 0 ? state(0, i) : Tensor();
    dispatch<kernels::kOptimizerDTypes>("SGD", p, [&]<typename T>(auto exec) {
      const kernels::SgdHyper<T> hyper{T(group.lr), T(options_.momentum), T(options_.dampening),
                                       T(group.effective_weight_decay()), options_.nesterov};
      sgd<T>(exec, p.data<T>(), g.data<T>(), data_or_null<T>(buffer), p.numel(), hyper, control.data<float>(),
             step_.data<double>());
    });
  });
}

}  // namespace ff::optim
