#pragma once
// Module: a tree of layers with named parameters and buffers. Names are dotted paths in
// registration order, own parameters before those of submodules (as PyTorch), e.g.
// "layers.0.attn.q.weight"; they are the checkpoint keys.
//
// A subclass keeps its tensors as data members and registers their addresses:
//
//   class Affine : public Module {
//    public:
//     explicit Affine(int64_t d) {
//       register_parameter("scale", scale = Tensor::ones({d}));
//       proj = register_module("proj", std::make_shared<Linear>(d, d));
//     }
//     Tensor scale;
//     std::shared_ptr<Linear> proj;
//   };
//
// so to(device) can replace the member itself and forward() reads it with no lookup. Modules
// are neither copyable nor movable (the registered addresses must stay valid); hold them in
// shared_ptr.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor/tensor.h"

namespace ff::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Dotted names, own tensors first, then each submodule's in registration order.
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  // Elements over all parameters.
  int64_t num_parameters() const;

  // Sets training mode here and in every submodule (dropout and drop-path read it).
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Copies every parameter and buffer to `device`, replacing the registered members; parameters
  // stay leaves that require grad (gradients are dropped). Build optimizers after this.
  void to(Device device);
  // Drops every parameter's gradient.
  void zero_grad();

 protected:
  // Registers the data member `slot` (already holding its tensor) as a parameter: marks it as a
  // leaf that requires grad. Returns slot.
  Tensor& register_parameter(const std::string& name, Tensor& slot);
  // A buffer: state saved in checkpoints but not trained (no grad).
  Tensor& register_buffer(const std::string& name, Tensor& slot);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool buffers, NamedTensors& out) const;

  std::vector<std::pair<std::string, Tensor*>> params_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace ff::nn
