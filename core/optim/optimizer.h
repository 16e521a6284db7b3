#pragma once
// Optimizers over parameter groups. A step is
//   opt.set_lr(schedule.lr_at(step)); loss.backward(); clip_grad_norm_(...); opt.step(); opt.zero_grad();
// or, without reading anything on the host (the trainer on a GPU):
//   opt.step(control)   control: (2) f32 on the parameters' device, {gradient scale, apply}
// as kernels/step_control.h writes it: the fused update kernels scale the gradients by
// control[0] and leave everything untouched when control[1] is 0. Parameters without a
// gradient are skipped. Construct the optimizer after the model has been moved to its device
// (Module::to replaces the parameter tensors; state is allocated next to the parameters).
//
// State for checkpoints: state_tensors() lists ("step", f64 scalar: updates applied) and one tensor per
// (slot, parameter), named "<slot>.<index>" with index the parameter's position over all
// groups in order ("exp_avg.0", "exp_avg_sq.0", ..., "momentum_buffer.3"). These names are
// checkpoint keys: they depend only on the parameter order, which Module::named_parameters
// fixes.

#include <string>
#include <utility>
#include <vector>

#include "core/tensor/tensor.h"

namespace ff::optim {

struct ParamGroup {
  std::vector<Tensor> params;
  double lr = 1e-3;
  double weight_decay = 0.0;
  // set_lr(lr) gives this group lr * lr_scale (layer-wise decay and the like).
  double lr_scale = 1.0;
  // Biases, norms, position embeddings, cls tokens: weight_decay is ignored.
  bool no_decay = false;

  double effective_weight_decay() const { return no_decay ? 0.0 : weight_decay; }
};

// Two groups as timm builds them: decayed parameters, and those that are 1-D (biases, norm
// scales) or whose dotted name ends with one of `skip` ("pos_embed", "cls_token"), which are
// not decayed. Either group may be empty (it is then left out).
std::vector<ParamGroup> decay_groups(const std::vector<std::pair<std::string, Tensor>>& named_params, double lr,
                                     double weight_decay, const std::vector<std::string>& skip = {});

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient; increments step_count() first.
  void step();
  // The same, scaled and gated by control (see above); step_count() grows by control[1].
  virtual void step(const Tensor& control) = 0;
  // Drops the gradients (next backward starts from nothing, as set_to_none in PyTorch).
  void zero_grad();

  // Every group's lr becomes lr * group.lr_scale.
  void set_lr(double lr);
  // The lr of group 0 before its lr_scale (what the schedule last set).
  double lr() const;

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  int64_t num_params() const { return static_cast<int64_t>(params_.size()); }
  // Updates applied so far (0 before the first step()). Reads the device: not for a hot loop.
  int64_t step_count() const;

  // ("step", f64 scalar) then "<slot>.<index>" for every slot and parameter. The tensors are
  // the live state (not copies), on the parameters' device.
  NamedTensors state_tensors() const;
  // Copies state in from tensors named as state_tensors() names them (any device, dtype
  // converted). Every name must be present with the right shape; extra names are an error.
  void load_state_tensors(const NamedTensors& state);

 protected:
  // Subclasses declare their per-parameter state slots in their constructor: one zero tensor
  // per parameter, same shape, dtype and device.
  void add_state_slot(const std::string& name);
  Tensor& state(size_t slot, size_t param_index) { return slots_[slot].second[param_index]; }

  // Calls fn(group, param, param_index) for each parameter with a gradient.
  template <typename Fn>
  void for_each_param_with_grad(Fn&& fn) {
    size_t index = 0;
    for (ParamGroup& group : groups_)
      for (Tensor& p : group.params) {
        if (p.grad().defined()) fn(group, p, index);
        ++index;
      }
  }

  // Checks control and returns the device of the parameters.
  Device check_control(const Tensor& control) const;

  Tensor step_;  // () f64 on the parameters' device: updates applied

 private:
  std::vector<ParamGroup> groups_;
  std::vector<Tensor> params_;  // all groups, in order
  std::vector<std::pair<std::string, std::vector<Tensor>>> slots_;
  Tensor always_;  // {1, 1}: the control of step()
};

}  // namespace ff::optim
