#pragma once
// CUDA-vs-CPU check shared by the op tests: runs f on f32 CPU inputs and on copies on the
// GPU, compares the outputs and the gradients of sum(f(inputs) * w) for a fixed random w.

#include <functional>
#include <string>
#include <vector>

#include "core/ops/ops.h"
#include "support/gradcheck.h"

namespace ff::testing {

// inputs: CPU tensors; floating ones become leaves requiring grad on both devices. Returns ""
// when outputs and every gradient agree within atol, else a description.
inline std::string compare_cuda_with_cpu(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                         const std::vector<Tensor>& inputs, double atol) {
  auto run = [&](Device device, std::vector<Tensor>& leaves) {
    leaves.clear();
    for (const Tensor& x : inputs) {
      Tensor leaf = to_device(x, device).detach();
      if (is_floating(leaf.dtype())) leaf.set_requires_grad(true);
      leaves.push_back(leaf);
    }
    Tensor y = f(leaves);
    if (y.requires_grad()) {
      Tensor w = to_device(to_dtype(random_tensor(y.shape(), 777), y.dtype()), device);
      sum(mul(y, w)).backward();
    }
    return y;
  };
  std::vector<Tensor> cpu_leaves, cuda_leaves;
  Tensor y_cpu = run(Device::cpu(), cpu_leaves);
  Tensor y_cuda = run(Device::cuda(), cuda_leaves);
  if (!y_cuda.device().is_cuda()) return "the output of the CUDA run is not on the GPU";
  double d = max_abs_diff(y_cuda, y_cpu);
  if (!(d <= atol)) return fmt::format("outputs differ by {} (atol {})", d, atol);
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor g_cpu = cpu_leaves[i].defined() && is_floating(inputs[i].dtype()) ? cpu_leaves[i].grad() : Tensor();
    Tensor g_cuda = is_floating(inputs[i].dtype()) ? cuda_leaves[i].grad() : Tensor();
    if (g_cpu.defined() != g_cuda.defined()) return fmt::format("gradient of input {} defined on one device only", i);
    if (!g_cpu.defined()) continue;
    d = max_abs_diff(g_cuda, g_cpu);
    if (!(d <= atol)) return fmt::format("gradients of input {} differ by {} (atol {})", i, d, atol);
  }
  return "";
}

}  // namespace ff::testing
