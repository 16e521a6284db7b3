#include "core/optim/sgd.h"

#include "core/autograd/autograd.h"
#include "core/ops/elementwise.h"
#include "core/ops/view.h"

namespace ff::optim {

SGD::SGD(std::vector<ParamGroup> groups, SgdOptions options) : Optimizer(std::move(groups)), options_(options) {
  FF_USER_CHECK(options.momentum >= 0, "SGD momentum must be >= 0, got {}", options.momentum);
  FF_USER_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
                "Nesterov momentum needs momentum > 0 and dampening 0");
  if (options.momentum != 0) add_state_slot("momentum_buffer");
}

SGD::SGD(std::vector<Tensor> params, double lr, double weight_decay, SgdOptions options)
    : SGD({ParamGroup{.params = std::move(params), .lr = lr, .weight_decay = weight_decay}}, options) {}

void SGD::step() {
  NoGradGuard no_grad;
  ++step_;
  for_each_param_with_grad([&](const ParamGroup& group, Tensor& p, size_t i) {
    // The gradient is never changed in place (it may be shared); d is a fresh tensor.
    Tensor d = p.grad();
    const double wd = group.effective_weight_decay();
    if (wd != 0) d = add(d, mul(p, wd));
    if (options_.momentum != 0) {
      Tensor& buf = state(0, i);
      if (step_ == 1) {
        copy_(buf, d);
      } else {
        mul_(buf, options_.momentum);
        add_(buf, d, 1.0 - options_.dampening);
      }
      d = options_.nesterov ? add(d, mul(buf, options_.momentum)) : buf;
    }
    add_(p, d, -group.lr);
  });
}

}  // namespace ff::optim
