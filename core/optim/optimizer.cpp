#include "core/optim/optimizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/ops/view.h"

namespace ff::optim {
namespace {

bool ends_with_name(const std::string& name, const std::string& leaf) {
  if (name == leaf) return true;
  return name.size() > leaf.size() && name.compare(name.size() - leaf.size(), leaf.size(), leaf) == 0 &&
         name[name.size() - leaf.size() - 1] == '.';
}

}  // namespace

std::vector<ParamGroup> decay_groups(const std::vector<std::pair<std::string, Tensor>>& named_params, double lr,
                                     double weight_decay, const std::vector<std::string>& skip) {
  ParamGroup decay{.params = {}, .lr = lr, .weight_decay = weight_decay};
  ParamGroup no_decay{.params = {}, .lr = lr, .weight_decay = weight_decay, .no_decay = true};
  for (const auto& [name, p] : named_params) {
    bool skipped = p.dim() <= 1 ||
                   std::any_of(skip.begin(), skip.end(), [&](const std::string& s) { return ends_with_name(name, s); });
    (skipped ? no_decay : decay).params.push_back(p);
  }
  std::vector<ParamGroup> groups;
  if (!decay.params.empty()) groups.push_back(std::move(decay));
  if (!no_decay.params.empty()) groups.push_back(std::move(no_decay));
  return groups;
}

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  for (const ParamGroup& group : groups_)
    for (const Tensor& p : group.params) {
      FF_CHECK(p.defined() && p.is_leaf() && p.requires_grad(),
               "optimizer parameter {} must be a leaf that requires grad", params_.size());
      FF_CHECK(p.is_contiguous(), "optimizer parameter {} must be contiguous, got {}", params_.size(), p.str());
      FF_CHECK(params_.empty() || p.device() == params_.front().device(),
               "optimizer parameters on {} and {}: one device per optimizer", params_.front().device().str(),
               p.device().str());
      params_.push_back(p);
    }
  step_ = Tensor::zeros({}, DType::F64, params_.empty() ? Device::cpu() : params_.front().device());
}

void Optimizer::step() {
  const Device device = step_.device();
  if (!always_.defined()) always_ = to_device(Tensor::from_vector<float>({1.0f, 1.0f}, {2}), device);
  step(always_);
}

int64_t Optimizer::step_count() const { return static_cast<int64_t>(step_.item()); }

Device Optimizer::check_control(const Tensor& control) const {
  FF_CHECK(control.dtype() == DType::F32 && control.numel() == 2 && control.is_contiguous(),
           "optimizer control must be 2 contiguous f32 values, got {}", control.str());
  FF_CHECK(control.device() == step_.device(), "optimizer control on {}, parameters on {}", control.device().str(),
           step_.device().str());
  return step_.device();
}

void Optimizer::add_state_slot(const std::string& name) {
  std::vector<Tensor> tensors;
  tensors.reserve(params_.size());
  for (const Tensor& p : params_) tensors.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
  slots_.emplace_back(name, std::move(tensors));
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.set_grad(Tensor());
}

void Optimizer::set_lr(double lr) {
  for (ParamGroup& group : groups_) group.lr = lr * group.lr_scale;
}

double Optimizer::lr() const {
  FF_CHECK(!groups_.empty(), "optimizer has no parameter groups");
  return groups_[0].lr / groups_[0].lr_scale;
}

NamedTensors Optimizer::state_tensors() const {
  NamedTensors out;
  out.emplace_back("step", step_);
  for (const auto& [slot, tensors] : slots_)
    for (size_t i = 0; i < tensors.size(); ++i) out.emplace_back(fmt::format("{}.{}", slot, i), tensors[i]);
  return out;
}

void Optimizer::load_state_tensors(const NamedTensors& state) {
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, t] : state) {
    FF_USER_CHECK(by_name.emplace(name, &t).second, "optimizer state has two tensors named '{}'", name);
  }
  auto take = [&](const std::string& name) -> const Tensor& {
    auto it = by_name.find(name);
    FF_USER_CHECK(it != by_name.end(), "optimizer state is missing '{}'", name);
    const Tensor& t = *it->second;
    by_name.erase(it);
    return t;
  };
  const Tensor& step = take("step");
  FF_USER_CHECK(step.numel() == 1, "optimizer state 'step' must be a scalar, got {}", step.str());
  // Check everything before changing anything.
  std::vector<std::pair<Tensor, const Tensor*>> copies;
  for (const auto& [slot, tensors] : slots_)
    for (size_t i = 0; i < tensors.size(); ++i) {
      std::string name = fmt::format("{}.{}", slot, i);
      const Tensor& src = take(name);
      FF_USER_CHECK(src.shape() == tensors[i].shape(), "optimizer state '{}' has shape {}, the parameter has {}", name,
                    shape_str(src.shape()), shape_str(tensors[i].shape()));
      copies.emplace_back(tensors[i], &src);
    }
  FF_USER_CHECK(by_name.empty(), "optimizer state has an unexpected tensor '{}'", by_name.begin()->first);
  copy_(step_, to_device(step, step_.device()));  // f64 now; older checkpoints hold an i64
  for (auto& [dst, src] : copies) copy_(dst, *src);
}

}  // namespace ff::optim
