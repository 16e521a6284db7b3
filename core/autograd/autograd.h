#pragma once
// Define-by-run reverse-mode autograd.
//
// A differentiable op computes its output, then calls record_op(): if grad mode is on and an
// input requires grad, the output gets a Node holding the inputs' autograd records and a
// backward closure. backward() orders the nodes topologically from the root, runs each
// closure once with the summed gradient of its output, adds leaf gradients into `.grad` and
// frees each node's closure (and so its saved tensors) as soon as it has run.
//
// Closures must capture saved tensors with detach(): a node that captured its own output
// with history would own itself.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor/tensor.h"

namespace ff {

using Grads = std::vector<Tensor>;
// grad_out -> one gradient per input (undefined where needs_grad[i] is false).
using BackwardFn = std::function<Grads(const Tensor& grad_out, const std::vector<bool>& needs_grad)>;

struct Node {
  std::string name;
  std::vector<std::shared_ptr<AutogradMeta>> inputs;  // null: that input needs no gradient
  std::vector<Shape> input_shapes;                     // gradients must come back in these
  std::vector<DType> input_dtypes;                     // ... and in these dtypes
  BackwardFn backward;
  // A view op of one input whose gradient is grad_out in elements [start, end) step `step` of
  // dim `dim` and zero elsewhere (slice, narrow, select): backward() adds grad_out into that
  // window of the input's summed gradient instead of calling `backward`, so no zero-filled
  // input-sized tensor is made per view (set_gradient_window).
  struct Window {
    int64_t dim = 0, start = 0, end = 0, step = 1;
  };
  std::optional<Window> window;
};

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;                    // leaves only
  std::shared_ptr<Node> grad_fn;  // null for leaves
  // Leaves only. When defined, gradients are accumulated in place into this tensor (a view into
  // a flat bucket of data-parallel training, core/dist/grad_reducer.h) and `grad` becomes it:
  // the first contribution after `grad` was cleared is copied in, later ones added, so the
  // buffer needs no zero fill and every step's gradient lands where the all-reduce reads it.
  Tensor grad_buffer;
  // Called with the finished gradient of a leaf, once per backward; removable by id.
  std::vector<std::pair<int64_t, std::function<void(const Tensor& grad)>>> grad_ready_hooks;
  int64_t next_hook_id = 0;
};

// While one is alive, ops on this thread record no history.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Mixed precision: inside an AutocastGuard(DType::BF16) region, GEMM-like ops (matmul, linear,
// attention) compute in bf16 with f32 accumulation and precision-sensitive ones (softmax,
// log_softmax, layer_norm, losses, reductions) in f32 (core/ops/autocast.h). backward() runs
// with autocast off, so every gradient comes back in its input's dtype: f32 for f32 weights.
std::optional<DType> autocast_dtype();

class AutocastGuard {
 public:
  explicit AutocastGuard(std::optional<DType> dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  std::optional<DType> previous_;
};

// Records `out` as the result of op `name` over `inputs`. No-op when grad mode is off or no
// input requires grad.
void record_op(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn backward);

// After record_op of a one-input view op: the input's gradient is out's gradient in `window`
// of the input, zero elsewhere (Node::window). No-op when out has no history.
void set_gradient_window(Tensor& out, const Node::Window& window);

// Whether record_op would record for these inputs (lets an op skip saving tensors).
bool any_requires_grad(const std::vector<Tensor>& inputs);

}  // namespace ff
