#pragma once
// A chain of one-in, one-out modules: forward(x) = m_{n-1}(... m_0(x)). Submodules are named
// "0", "1", ... so parameters read "2.weight", and "layers.2.weight" inside a parent that
// registers the Sequential as "layers". Lambda wraps a parameter-free function (an activation).

#include <functional>
#include <memory>
#include <vector>

#include "core/nn/layer.h"

namespace ff::nn {

class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<UnaryModule>> modules);

  // Appends `module` under the next index; returns *this.
  Sequential& add(std::shared_ptr<UnaryModule> module);
  Tensor forward(const Tensor& x) override;

  size_t size() const { return modules_.size(); }
  const std::shared_ptr<UnaryModule>& operator[](size_t i) const { return modules_.at(i); }

 private:
  std::vector<std::shared_ptr<UnaryModule>> modules_;
};

class Lambda : public UnaryModule {
 public:
  explicit Lambda(std::function<Tensor(const Tensor&)> fn) : fn_(std::move(fn)) {}
  Tensor forward(const Tensor& x) override { return fn_(x); }

 private:
  std::function<Tensor(const Tensor&)> fn_;
};

}  // namespace ff::nn
