#include "core/autograd/autograd.h"

#include <unordered_map>

#include "core/ops/elementwise.h"
#include "core/ops/view.h"

namespace ff {
namespace {

thread_local bool g_grad_mode = true;
thread_local std::optional<DType> g_autocast;

// Adds `g` into an accumulated gradient (out of place: `g` may alias another gradient).
void accumulate(Tensor& acc, const Tensor& g) { acc = acc.defined() ? add(acc, g) : g; }

// A gradient being summed during backward(). The first contribution is kept as it is (it may
// alias a tensor another node returned or saved); once a sum has been made here the tensor is
// owned by the walk, and later contributions are added into it in place.
struct Sum {
  Tensor t;
  bool owned = false;
};

void accumulate(Sum& acc, const Tensor& g) {
  if (!acc.t.defined()) {
    acc.t = g;
  } else if (acc.owned) {
    add_(acc.t, g);
  } else {
    acc.t = add(acc.t, g);
    acc.owned = true;
  }
}

// Adds `g` into `window` of the sum of an input of shape `shape` (zero outside the window).
void accumulate_window(Sum& acc, const Tensor& g, const Node::Window& w, const Shape& shape, DType dtype) {
  if (!acc.t.defined()) {
    acc.t = Tensor::zeros(shape, dtype, g.device());
  } else if (!acc.owned) {
    Tensor copy = Tensor::empty(shape, dtype, g.device());
    copy_(copy, acc.t);
    acc.t = copy;
  }
  acc.owned = true;
  Tensor view = slice(acc.t, w.dim, w.start, w.end, w.step);
  add_(view, g);
}

// Whether two tensors are the same elements of the same storage.
bool same_elements(const Tensor& a, const Tensor& b) {
  return a.storage() == b.storage() && a.offset() == b.offset() && a.shape() == b.shape() && a.strides() == b.strides();
}

void check_grad(const Node& node, size_t input, const Tensor& g) {
  FF_CHECK(g.shape() == node.input_shapes[input] && g.dtype() == node.input_dtypes[input],
           "backward of {} returned a gradient {} for input {} of shape {} and dtype {}", node.name, g.str(), input,
           shape_str(node.input_shapes[input]), dtype_name(node.input_dtypes[input]));
}

}  // namespace

NoGradGuard::NoGradGuard() : previous_(g_grad_mode) { g_grad_mode = false; }
NoGradGuard::~NoGradGuard() { g_grad_mode = previous_; }

std::optional<DType> autocast_dtype() { return g_autocast; }
AutocastGuard::AutocastGuard(std::optional<DType> dtype) : previous_(g_autocast) { g_autocast = dtype; }
AutocastGuard::~AutocastGuard() { g_autocast = previous_; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record_op(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn backward) {
  if (!any_requires_grad(inputs)) return;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    node->inputs.push_back(t.defined() && t.requires_grad() ? t.autograd_meta() : nullptr);
    node->input_shapes.push_back(t.defined() ? t.shape() : Shape{});
    node->input_dtypes.push_back(t.defined() ? t.dtype() : DType::F32);
  }
  node->backward = std::move(backward);
  auto meta = std::make_shared<AutogradMeta>();
  meta->requires_grad = true;
  meta->grad_fn = std::move(node);
  out.set_autograd_meta(std::move(meta));
}

void set_gradient_window(Tensor& out, const Node::Window& window) {
  if (!out.requires_grad() || out.is_leaf()) return;
  Node& node = *out.autograd_meta()->grad_fn;
  FF_CHECK(node.inputs.size() == 1, "set_gradient_window: {} has {} inputs, expected 1", node.name, node.inputs.size());
  node.window = window;
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  FF_CHECK(requires_grad(), "backward() on a tensor that does not require grad ({})", str());
  NoGradGuard no_grad;
  AutocastGuard no_autocast(std::nullopt);
  Tensor root_grad = grad;
  if (!root_grad.defined()) {
    FF_CHECK(numel() == 1, "backward() without a gradient needs a scalar, got {}", str());
    root_grad = Tensor::ones(shape(), dtype(), device());
  }
  FF_CHECK(root_grad.shape() == shape(), "backward gradient {} does not match {}", root_grad.str(), str());

  // A leaf's gradient is final once every edge into it has delivered.
  auto finish_leaf = [](AutogradMeta& meta, Tensor g) {
    if (meta.grad_buffer.defined()) {
      Tensor& buffer = meta.grad_buffer;
      // A gradient set from outside (set_grad) is taken into the buffer first.
      if (meta.grad.defined() && !same_elements(meta.grad, buffer)) copy_(buffer, meta.grad);
      if (meta.grad.defined())
        add_(buffer, g);
      else
        copy_(buffer, g);
      meta.grad = buffer;
    } else {
      if (!g.is_contiguous()) g = contiguous(g);
      accumulate(meta.grad, g);
    }
    for (auto& [id, hook] : meta.grad_ready_hooks) hook(meta.grad);
  };
  if (is_leaf()) {
    finish_leaf(*autograd_, root_grad);
    return;
  }

  // Count, for every node and leaf reachable from the root, the edges that point at it.
  std::unordered_map<Node*, int> pending;
  std::unordered_map<AutogradMeta*, int> leaf_pending;
  std::vector<Node*> stack{autograd_->grad_fn.get()};
  pending[stack.back()] = 0;
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const auto& in : node->inputs) {
      if (!in) continue;
      if (Node* next = in->grad_fn.get()) {
        auto [it, inserted] = pending.try_emplace(next, 0);
        ++it->second;
        if (inserted) stack.push_back(next);
      } else {
        ++leaf_pending[in.get()];
      }
    }
  }

  // Walk in topological order: a node runs once all its consumers have added their gradients.
  std::unordered_map<Node*, Sum> grads;
  grads[autograd_->grad_fn.get()].t = root_grad;
  std::vector<Node*> ready{autograd_->grad_fn.get()};
  std::unordered_map<AutogradMeta*, Sum> leaf_grads;
  while (!ready.empty()) {
    Node* node = ready.back();
    ready.pop_back();
    Tensor g_out = std::move(grads[node].t);
    grads.erase(node);
    FF_CHECK(node->backward, "backward through {} a second time: its saved tensors were freed "
             "(pass retain_graph=true to the first backward)", node->name);
    std::vector<bool> needs(node->inputs.size());
    for (size_t i = 0; i < needs.size(); ++i) needs[i] = node->inputs[i] != nullptr;
    // A windowed view adds g_out into its input's sum below; other nodes run their closure.
    const bool windowed = node->window.has_value();
    Grads g_in = g_out.defined() && !windowed ? node->backward(g_out, needs) : Grads(needs.size());
    FF_CHECK(g_in.size() == needs.size(), "backward of {} returned {} gradients for {} inputs",
             node->name, g_in.size(), needs.size());
    if (!retain_graph) node->backward = nullptr;

    for (size_t i = 0; i < needs.size(); ++i) {
      const auto& in = node->inputs[i];
      if (!in) continue;
      if (g_in[i].defined()) check_grad(*node, i, g_in[i]);
      Node* next = in->grad_fn.get();
      Sum& acc = next ? grads[next] : leaf_grads[in.get()];
      if (windowed && g_out.defined()) {
        accumulate_window(acc, g_out, *node->window, node->input_shapes[i], node->input_dtypes[i]);
      } else if (g_in[i].defined()) {
        accumulate(acc, g_in[i]);
      }
      if (next) {
        if (--pending[next] == 0) ready.push_back(next);
      } else if (--leaf_pending[in.get()] == 0) {
        if (acc.t.defined()) finish_leaf(*in, std::move(acc.t));
        leaf_grads.erase(in.get());
      }
    }
  }
}

}  // namespace ff
