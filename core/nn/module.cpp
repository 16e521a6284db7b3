#include "core/nn/module.h"

#include "core/autograd/autograd.h"
#include "core/ops/view.h"

namespace ff::nn {

void Module::check_new_name(const std::string& name) const {
  FF_CHECK(!name.empty() && name.find('.') == std::string::npos, "module member name '{}' must be non-empty, no dots",
           name);
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  FF_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), "name '{}' is registered twice", name);
}

Tensor& Module::register_parameter(const std::string& name, Tensor& slot) {
  check_new_name(name);
  FF_CHECK(slot.defined(), "parameter '{}' is registered before it holds a tensor", name);
  FF_CHECK(slot.is_leaf(), "parameter '{}' must be a leaf (detach it first)", name);
  slot.set_requires_grad(true);
  params_.emplace_back(name, &slot);
  return slot;
}

Tensor& Module::register_buffer(const std::string& name, Tensor& slot) {
  check_new_name(name);
  FF_CHECK(slot.defined(), "buffer '{}' is registered before it holds a tensor", name);
  buffers_.emplace_back(name, &slot);
  return slot;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  FF_CHECK(module != nullptr, "submodule '{}' is null", name);
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, bool buffers, NamedTensors& out) const {
  for (const auto& [name, slot] : buffers ? buffers_ : params_) out.emplace_back(prefix + name, *slot);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(std::move(t));
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  for (auto& [name, slot] : params_) {
    if (slot->device() == device) continue;
    *slot = to_device(slot->detach(), device);
    slot->set_requires_grad(true);
  }
  for (auto& [name, slot] : buffers_)
    if (slot->device() != device) *slot = to_device(*slot, device);
  for (auto& [name, child] : children_) child->to(device);
}

void Module::zero_grad() {
  for (auto& [name, slot] : params_) slot->set_grad(Tensor());
  for (auto& [name, child] : children_) child->zero_grad();
}

}  // namespace ff::nn
